import { z } from 'zod';
import { LIMITS } from '../limits.js';
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

export const NSFW_POLICIES = ['block', 'spoiler-in-age-restricted'] as const;

/** A guild's settings in the settings KV bucket, changed with /settings. */
export const guildSettingsSchema = z.object({
  v: versionField,
  guildId: snowflake(),
  rateLimits: rateLimitOverridesSchema.default({}),
  maxSteps: integerIn(LIMITS.steps).optional(),
  maxPixels: integerIn({ min: LIMITS.size.min ** 2, max: LIMITS.size.max ** 2 }).optional(),
  maxCount: integerIn(LIMITS.count).optional(),
  defaultModel: identifier('model id').optional(),
  defaultScheduler: oneOf(SCHEDULER_NAMES).optional(),
  variationStrength: numberIn(LIMITS.strength).optional(),
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
  nsfwPolicy: oneOf(NSFW_POLICIES).default('block'),
  updatedAt: timestamp(),
  updatedBy: textUpTo(64, { allowEmpty: false }),
});
export type GuildSettings = z.output<typeof guildSettingsSchema>;
