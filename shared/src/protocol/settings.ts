import { z } from 'zod';
import { LIMITS } from '../limits.js';
import { PROMPT_SYNTAXES } from '../prompt-syntax.js';
import { versionField } from './common.js';
import { SCHEDULER_NAMES, UPSCALE_FACTORS } from './job.js';
import { identifier, integerIn, numberIn, oneOf, snowflake, textUpTo, timestamp } from './fields.js';

/** Per-guild rate limits; any field left out falls back to the configured default. */
export const rateLimitOverridesSchema = z.object({
  guildJobsPerMinute: integerIn({ min: 1, max: 10_000 }).optional(),
  guildBurst: integerIn({ min: 1, max: 10_000 }).optional(),
  userJobsPerMinute: integerIn({ min: 1, max: 10_000 }).optional(),
  userBurst: integerIn({ min: 1, max: 10_000 }).optional(),
  userMaxConcurrent: integerIn({ min: 1, max: 100 }).optional(),
  guildMaxQueued: integerIn({ min: 1, max: 10_000 }).optional(),
});

/**
 * `block`: flagged images are replaced by the worker everywhere. `allow-in-age-restricted`: in this
 * server's age-restricted channels flagged images come back intact, posted as spoilers with a
 * content warning; elsewhere they are replaced.
 */
export const NSFW_POLICIES = ['block', 'allow-in-age-restricted'] as const;
export type NsfwPolicy = (typeof NSFW_POLICIES)[number];
/** Stored values of older versions, read as their current name. */
const NSFW_POLICY_RENAMES: Readonly<Record<string, NsfwPolicy>> = {
  'spoiler-in-age-restricted': 'allow-in-age-restricted',
};

/** What a server's admins set for one channel; the member's own preferences still win. */
export const channelDefaultsSchema = z.object({
  model: identifier('model id').optional(),
  negativePrompt: textUpTo(LIMITS.negativePromptMaxChars, { allowEmpty: false }).optional(),
});
export type ChannelDefaults = z.output<typeof channelDefaultsSchema>;

/** Images per UTC day; a job counts as many images as it draws. */
const dailyImages = () => integerIn({ min: 1, max: 1_000_000 });

/**
 * Settings stored by older versions, read as today's: V buttons' `variationStrength` became the
 * strength of strong variations.
 */
function migrateSettings(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !('variationStrength' in value)) return value;
  const { variationStrength, ...rest } = value as Record<string, unknown>;
  return 'strongStrength' in rest ? rest : { ...rest, strongStrength: variationStrength };
}

const guildSettingsFields = z.object({
  v: versionField,
  guildId: snowflake(),
  rateLimits: rateLimitOverridesSchema.default({}),
  maxSteps: integerIn(LIMITS.steps).optional(),
  maxPixels: integerIn({ min: LIMITS.size.min ** 2, max: LIMITS.size.max ** 2 }).optional(),
  maxCount: integerIn(LIMITS.count).optional(),
  defaultModel: identifier('model id').optional(),
  defaultScheduler: oneOf(SCHEDULER_NAMES).optional(),
  /** img2img strength of Vary (Subtle). */
  subtleStrength: numberIn(LIMITS.strength).optional(),
  /** img2img strength of V1-V4 and Vary (Strong). */
  strongStrength: numberIn(LIMITS.strength).optional(),
  /** U and Upscale again: enlarge by this factor (default 2). */
  upscaleFactor: z.union(UPSCALE_FACTORS.map((factor) => z.literal(factor))).optional(),
  /** Largest width x height an upscale may produce (default 2048x2048). */
  upscaleMaxPixels: integerIn({ min: LIMITS.size.min ** 2, max: LIMITS.size.max ** 2 }).optional(),
  /** Upscale (Creative): img2img strength after enlarging (default 0.35). */
  creativeStrength: numberIn(LIMITS.strength).optional(),
  bannedWords: z
    .array(textUpTo(100, { allowEmpty: false }))
    .max(500)
    .default([]),
  /** Empty means every channel. */
  allowedChannels: z.array(snowflake()).max(500).default([]),
  nsfwPolicy: z
    .preprocess((value) => NSFW_POLICY_RENAMES[String(value)] ?? value, oneOf(NSFW_POLICIES))
    .default('block'),
  /** Only members with one of these roles may create jobs; empty means everyone. */
  allowedRoles: z.array(snowflake()).max(250).default([]),
  /** Members who may not create jobs in this server. */
  bannedUsers: z.array(snowflake()).max(1000).default([]),
  userDailyImages: dailyImages().optional(),
  serverDailyImages: dailyImages().optional(),
  /** Per-channel defaults by channel id. */
  channelDefaults: z
    .record(snowflake(), channelDefaultsSchema)
    .refine((record) => Object.keys(record).length <= 500, { message: 'must list at most 500 channels' })
    .default({}),
  /** How this server's prompts are read; unset: DEFAULT_PROMPT_SYNTAX. */
  promptSyntax: oneOf(PROMPT_SYNTAXES).optional(),
  updatedAt: timestamp(),
  updatedBy: textUpTo(64, { allowEmpty: false }),
});

/** A guild's settings in the settings KV bucket, changed with /settings. */
export const guildSettingsSchema = z.preprocess(migrateSettings, guildSettingsFields);
export type GuildSettings = z.output<typeof guildSettingsSchema>;
