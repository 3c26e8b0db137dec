/**
 * The guild settings a server admin changes with `/settings set <key> <value>`, by their user-facing
 * key (`max-steps`), with how to parse a typed value, read the current override and remove it.
 * Values are validated by the protocol's `guildSettingsSchema`, so ranges match everywhere; a guild
 * may only lower the bot's own limits (pixels, rate limits), never raise them.
 */
import {
  schedulerLabel,
  parseSchedulerName,
  DEFAULT_PROMPT_SYNTAX,
  guildSettingsSchema,
  LIMITS,
  ValidationError,
  type Config,
  type GuildSettings,
  type SchedulerName,
  type ValidationIssue,
} from '@sdbot/shared';
import { UPSCALE_DEFAULTS } from '../upscale/sizes.js';

/** Bot-wide values a guild's settings fall back to and may not exceed. */
export interface SettingsDefaults {
  maxPixels: number;
  /** Undefined: the first model a worker serves. */
  defaultModel?: string;
  defaultScheduler: SchedulerName;
  rateLimits: Config['rateLimits'];
}

/** img2img strengths of variations when a server sets none: near the image, or further from it. */
export const VARIATION_DEFAULTS = { subtleStrength: 0.35, strongStrength: 0.75 } as const;

/** The strength of a subtle or strong variation on this server. */
export function variationStrength(settings: GuildSettings | null, kind: 'subtle' | 'strong'): number {
  return kind === 'subtle'
    ? (settings?.subtleStrength ?? VARIATION_DEFAULTS.subtleStrength)
    : (settings?.strongStrength ?? VARIATION_DEFAULTS.strongStrength);
}

export function settingsDefaultsFromConfig(config: Config): SettingsDefaults {
  const defaults: SettingsDefaults = {
    maxPixels: config.limits.maxPixels,
    defaultScheduler: config.limits.defaultScheduler,
    rateLimits: config.rateLimits,
  };
  if (config.limits.defaultModel !== undefined) defaults.defaultModel = config.limits.defaultModel;
  return defaults;
}

type TopLevelField =
  | 'maxSteps'
  | 'maxPixels'
  | 'maxCount'
  | 'defaultModel'
  | 'defaultScheduler'
  | 'subtleStrength'
  | 'strongStrength'
  | 'upscaleFactor'
  | 'upscaleMaxPixels'
  | 'creativeStrength'
  | 'nsfwPolicy'
  | 'userDailyImages'
  | 'serverDailyImages'
  | 'promptSyntax';
type RateLimitField = keyof Config['rateLimits'];
type SettingLocation = { in: 'settings'; field: TopLevelField } | { in: 'rateLimits'; field: RateLimitField };

export interface SettingSpec {
  key: string;
  /** Shown in `/settings set` choices (at most 100 characters). */
  description: string;
  /** Where the value lives in GuildSettings. */
  location: SettingLocation;
  /** Text typed by the admin to the value to store (schema-checked afterwards). */
  parse(text: string): unknown;
  /** The bot's value, which the guild's override may not exceed; undefined: no ceiling. */
  ceiling?(defaults: SettingsDefaults): number;
  /** What applies when the guild sets nothing, for `/settings view`. */
  fallback(defaults: SettingsDefaults): string;
}

function schedulerText(name: SchedulerName): string {
  return `${name} (${schedulerLabel(name)})`;
}

const NUMBER_TEXT = /^[-+]?\d+(\.\d+)?$/;

function numberOrText(text: string): unknown {
  const trimmed = text.trim();
  return NUMBER_TEXT.test(trimmed) ? Number(trimmed) : trimmed;
}

/** `589824` or `768x768`. */
function pixelsOrText(text: string): unknown {
  const size = /^(\d+)\s*[x*×]\s*(\d+)$/i.exec(text.trim());
  return size ? Number(size[1]) * Number(size[2]) : numberOrText(text);
}

function topLevel(
  key: string,
  field: TopLevelField,
  description: string,
  parse: (text: string) => unknown,
  fallback: (defaults: SettingsDefaults) => string,
  ceiling?: (defaults: SettingsDefaults) => number,
): SettingSpec {
  const spec: SettingSpec = { key, description, location: { in: 'settings', field }, parse, fallback };
  if (ceiling !== undefined) spec.ceiling = ceiling;
  return spec;
}

function rateLimit(key: string, field: RateLimitField, description: string): SettingSpec {
  return {
    key,
    description,
    location: { in: 'rateLimits', field },
    parse: numberOrText,
    ceiling: (defaults) => defaults.rateLimits[field],
    fallback: (defaults) => String(defaults.rateLimits[field]),
  };
}

export const SETTING_SPECS: readonly SettingSpec[] = [
  topLevel('max-steps', 'maxSteps', 'Most denoising steps per image', numberOrText, () =>
    String(LIMITS.steps.max),
  ),
  topLevel(
    'max-pixels',
    'maxPixels',
    'Largest width x height, e.g. 589824 or 768x768',
    pixelsOrText,
    (defaults) => String(defaults.maxPixels),
    (defaults) => defaults.maxPixels,
  ),
  topLevel('max-count', 'maxCount', 'Most images per /imagine', numberOrText, () => String(LIMITS.count.max)),
  topLevel(
    'default-model',
    'defaultModel',
    'Model used when a request names none',
    (text) => text.trim(),
    (defaults) => defaults.defaultModel ?? 'the first model online',
  ),
  topLevel(
    'default-scheduler',
    'defaultScheduler',
    'Scheduler used when a request names none',
    (text) => parseSchedulerName(text) ?? text.trim(),
    (defaults) => schedulerText(defaults.defaultScheduler),
  ),
  topLevel('subtle-strength', 'subtleStrength', 'Vary (Subtle) strength, 0..1', numberOrText, () =>
    String(VARIATION_DEFAULTS.subtleStrength),
  ),
  topLevel('strong-strength', 'strongStrength', 'V1-V4 and Vary (Strong) strength, 0..1', numberOrText, () =>
    String(VARIATION_DEFAULTS.strongStrength),
  ),
  topLevel('upscale-factor', 'upscaleFactor', 'U and Upscale again enlarge by 2 or 4', numberOrText, () =>
    String(UPSCALE_DEFAULTS.factor),
  ),
  topLevel(
    'upscale-max-pixels',
    'upscaleMaxPixels',
    'Largest upscaled width x height, e.g. 2048x2048',
    pixelsOrText,
    () => `${UPSCALE_DEFAULTS.maxPixels} (2048x2048)`,
  ),
  topLevel(
    'creative-strength',
    'creativeStrength',
    'How far Upscale (Creative) redraws the image (0..1)',
    numberOrText,
    () => String(UPSCALE_DEFAULTS.creativeStrength),
  ),
  topLevel(
    'nsfw-policy',
    'nsfwPolicy',
    'block, or allow-in-age-restricted (flagged images as spoilers there)',
    (text) => text.trim().toLowerCase(),
    () => 'block',
  ),
  topLevel(
    'user-daily-images',
    'userDailyImages',
    'Images each member may make per day (UTC)',
    numberOrText,
    () => 'no quota',
  ),
  topLevel(
    'server-daily-images',
    'serverDailyImages',
    'Images the whole server may make per day (UTC)',
    numberOrText,
    () => 'no quota',
  ),
  topLevel(
    'prompt-syntax',
    'promptSyntax',
    'a1111 (weights, BREAK) or plain',
    (text) => text.trim().toLowerCase(),
    () => DEFAULT_PROMPT_SYNTAX,
  ),
  rateLimit('guild-jobs-per-minute', 'guildJobsPerMinute', 'Jobs per minute for the whole server'),
  rateLimit(
    'guild-burst',
    'guildBurst',
    'Jobs the server may start at once before the per-minute rate applies',
  ),
  rateLimit('user-jobs-per-minute', 'userJobsPerMinute', 'Jobs per minute for each member'),
  rateLimit('user-burst', 'userBurst', 'Jobs a member may start at once before the per-minute rate applies'),
  rateLimit('user-max-concurrent', 'userMaxConcurrent', 'Queued or running jobs each member may have'),
  rateLimit('guild-max-queued', 'guildMaxQueued', 'Queued or running jobs for the whole server'),
];

/** Keys of the two lists, which `/settings reset` also clears. */
export const LIST_KEYS = {
  bannedWords: 'banned-words',
  allowedChannels: 'channels',
  allowedRoles: 'roles',
  bannedUsers: 'banned-users',
  channelDefaults: 'channel-defaults',
} as const;

/** The field of GuildSettings each list key empties on `/settings reset`. */
const LIST_FIELDS = {
  [LIST_KEYS.bannedWords]: 'bannedWords',
  [LIST_KEYS.allowedChannels]: 'allowedChannels',
  [LIST_KEYS.allowedRoles]: 'allowedRoles',
  [LIST_KEYS.bannedUsers]: 'bannedUsers',
  [LIST_KEYS.channelDefaults]: 'channelDefaults',
} as const satisfies Record<string, keyof GuildSettings>;
type ListKey = keyof typeof LIST_FIELDS;

function isListKey(key: string): key is ListKey {
  return Object.hasOwn(LIST_FIELDS, key);
}

export function findSettingSpec(key: string): SettingSpec | undefined {
  return SETTING_SPECS.find((spec) => spec.key === key);
}

/** The guild's own value for a key, or undefined when it uses the bot's. */
export function settingValue(settings: GuildSettings, spec: SettingSpec): unknown {
  const { location } = spec;
  return location.in === 'rateLimits' ? settings.rateLimits[location.field] : settings[location.field];
}

/** A copy of the record with `field` set to `value`, or without it when `value` is undefined. */
function assignOrOmit(record: object, field: string, value: unknown): Record<string, unknown> {
  const kept = Object.entries(record).filter(([name]) => name !== field);
  return Object.fromEntries(value === undefined ? kept : [...kept, [field, value]]);
}

function withValue(settings: GuildSettings, spec: SettingSpec, value: unknown): Record<string, unknown> {
  const { location } = spec;
  if (location.in === 'settings') return assignOrOmit(settings, location.field, value);
  return { ...settings, rateLimits: assignOrOmit(settings.rateLimits, location.field, value) };
}

/** The user-facing key for a schema path, so errors say `guild-burst`, not `rateLimits.guildBurst`. */
export function keyForPath(path: readonly PropertyKey[]): string {
  const [first, second] = path;
  const list = Object.entries(LIST_FIELDS).find(([, field]) => field === first);
  if (list !== undefined) return list[0];
  const spec = SETTING_SPECS.find(({ location }) =>
    location.in === 'rateLimits'
      ? first === 'rateLimits' && second === location.field
      : first === location.field,
  );
  return spec?.key ?? path.map(String).join('.');
}

/** Validates a whole settings value; issues name user-facing keys. */
export function checkSettings(value: unknown): GuildSettings {
  const parsed = guildSettingsSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((issue) => ({ field: keyForPath(issue.path), message: issue.message })),
  );
}

function unknownKey(key: string): ValidationError {
  const keys = [...SETTING_SPECS.map((spec) => spec.key), ...Object.values(LIST_KEYS)];
  return new ValidationError([{ field: key, message: `is not a setting; settings: ${keys.join(', ')}` }]);
}

/** The settings with `key` set from the typed text; throws a ValidationError naming the key. */
export function applySetting(
  settings: GuildSettings,
  key: string,
  text: string,
  defaults: SettingsDefaults,
): GuildSettings {
  const spec = findSettingSpec(key);
  if (spec === undefined) throw unknownKey(key);
  const next = checkSettings(withValue(settings, spec, spec.parse(text)));
  const value = settingValue(next, spec);
  const ceiling = spec.ceiling?.(defaults);
  if (ceiling !== undefined && typeof value === 'number' && value > ceiling) {
    const issue: ValidationIssue = {
      field: key,
      message: `must be at most ${ceiling}, this bot's limit (got ${value})`,
    };
    throw new ValidationError([issue]);
  }
  return next;
}

/** The settings without the guild's value for `key` (the bot's default applies again). */
export function resetSetting(settings: GuildSettings, key: string): GuildSettings {
  if (isListKey(key)) {
    const field = LIST_FIELDS[key];
    return { ...settings, [field]: field === 'channelDefaults' ? {} : [] };
  }
  const spec = findSettingSpec(key);
  if (spec === undefined) throw unknownKey(key);
  return checkSettings(withValue(settings, spec, undefined));
}

/** `euler_a (Euler a)` for schedulers, the plain value otherwise, for the view. */
export function describeSettingValue(spec: SettingSpec, value: unknown): string {
  const scheduler =
    spec.key === 'default-scheduler' && typeof value === 'string' ? parseSchedulerName(value) : undefined;
  return scheduler === undefined ? String(value) : schedulerText(scheduler);
}
