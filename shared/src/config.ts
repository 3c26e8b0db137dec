/**
 * Configuration from the environment and an optional JSON config file (SDBOT_CONFIG), validated at
 * start. Every variable is declared once below with its default and meaning; the README's
 * configuration table is checked against this list by a test.
 */
import { z } from 'zod';
import { LIMITS } from './limits.js';
import { LOG_FORMATS } from './logger.js';
import { SCHEDULER_NAMES } from './protocol/job.js';
import { ONNX_RUNTIME_VARIABLES } from './config/onnx-runtime.js';
import {
  decimal,
  fromText,
  duration,
  durationAtLeast,
  integer,
  list,
  natsServers,
  text,
  toggle,
  url,
  variable,
  type Variable,
} from './config/values.js';

export { formatDuration, parseDuration } from './config/values.js';

/** Least value of each duration variable (also in the README's configuration reference). */
export const DURATION_MINIMUMS_MS = {
  SDBOT_JOB_MAX_AGE: 60_000,
  SDBOT_DUPLICATE_WINDOW: 1000,
  SDBOT_ACK_WAIT: 1000,
  SDBOT_RESULT_MAX_AGE: 60_000,
  SDBOT_JOB_STATE_TTL: 60_000,
  SDBOT_DEAD_LETTER_MAX_AGE: 60_000,
  SDBOT_RETRY_DELAY: 10,
  SDBOT_HEARTBEAT_INTERVAL: 1000,
  SDBOT_SHUTDOWN_GRACE: 100,
} as const;

/** Every configuration variable, grouped the way the code reads them. */
export const CONFIG_SPEC = {
  nats: {
    url: variable({
      env: 'NATS_URL',
      schema: natsServers.optional(),
      description: 'NATS server URL(s), comma-separated. Unset: `sdbot up` starts a local nats-server.',
    }),
    user: variable({
      env: 'NATS_USER',
      schema: text.optional(),
      description: 'NATS user name (see deploy/ for the bot and worker users).',
    }),
    password: variable({
      env: 'NATS_PASSWORD',
      schema: text.optional(),
      description: 'Password of NATS_USER.',
      secret: true,
    }),
    token: variable({
      env: 'NATS_TOKEN',
      schema: text.optional(),
      description: 'NATS auth token (instead of user and password).',
      secret: true,
    }),
    credsFile: variable({
      env: 'NATS_CREDS',
      schema: text.optional(),
      description: 'Path to a NATS .creds file (JWT + nkey).',
    }),
  },
  jetstream: {
    replicas: variable({
      env: 'SDBOT_JS_REPLICAS',
      schema: integer(1, 5),
      default: 1,
      description: 'Replicas of every stream, KV bucket and object store (3 on a cluster).',
    }),
    jobMaxAgeMs: variable({
      env: 'SDBOT_JOB_MAX_AGE',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_JOB_MAX_AGE),
      default: '24h',
      description: 'How long a queued job may wait before the jobs stream discards it.',
    }),
    duplicateWindowMs: variable({
      env: 'SDBOT_DUPLICATE_WINDOW',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_DUPLICATE_WINDOW),
      default: '20m',
      description: 'Window in which a job published twice with the same id is stored once.',
    }),
    maxDeliver: variable({
      env: 'SDBOT_MAX_DELIVER',
      schema: integer(1, 100),
      default: 5,
      description: 'Deliveries of a job before it is dead-lettered.',
    }),
    ackWaitMs: variable({
      env: 'SDBOT_ACK_WAIT',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_ACK_WAIT),
      default: '60s',
      description: 'How long a worker may go silent on a job before it is redelivered.',
    }),
    resultMaxAgeMs: variable({
      env: 'SDBOT_RESULT_MAX_AGE',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_RESULT_MAX_AGE),
      default: '24h',
      description: 'How long results and their images are kept.',
    }),
    jobStateTtlMs: variable({
      env: 'SDBOT_JOB_STATE_TTL',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_JOB_STATE_TTL),
      default: '7d',
      description: 'How long job state is kept in KV (buttons work for this long).',
    }),
    deadLetterMaxAgeMs: variable({
      env: 'SDBOT_DEAD_LETTER_MAX_AGE',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_DEAD_LETTER_MAX_AGE),
      default: '7d',
      description: 'How long dead-lettered jobs are kept for inspection.',
    }),
    retryDelayMs: variable({
      env: 'SDBOT_RETRY_DELAY',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_RETRY_DELAY),
      default: '5s',
      description: 'Delay before a job that failed for a passing reason is offered again (doubles per try).',
    }),
  },
  log: {
    level: variable({
      env: 'LOG_LEVEL',
      schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
      default: 'info',
      description: 'Log level: trace, debug, info, warn, error, fatal or silent.',
    }),
    format: variable({
      env: 'LOG_FORMAT',
      schema: z.enum(LOG_FORMATS),
      default: 'auto',
      description: 'Log lines: json, pretty (one human line each), or auto (pretty on a terminal).',
    }),
  },
  discord: {
    token: variable({
      env: 'DISCORD_TOKEN',
      schema: text.optional(),
      description: 'Discord bot token (Developer Portal, Bot page).',
      secret: true,
    }),
    applicationId: variable({
      env: 'DISCORD_APPLICATION_ID',
      schema: z
        .preprocess(
          fromText,
          z.string().regex(/^\d{17,20}$/, { error: 'must be a Discord id (17-20 digits)' }),
        )
        .optional(),
      description: 'Application id (read from the token when unset).',
    }),
    apiUrl: variable({
      env: 'DISCORD_API_URL',
      schema: url,
      default: 'https://discord.com/api',
      description: 'Discord REST base URL; point it at the emulator in tests.',
    }),
    cdnUrl: variable({
      env: 'DISCORD_CDN_URL',
      schema: url.optional(),
      description:
        'One more origin the bot downloads attachments from, besides cdn.discordapp.com and media.discordapp.net (a proxy, or the emulator in tests).',
    }),
  },
  worker: {
    models: variable({
      env: 'SDBOT_MODELS',
      schema: list,
      default: [],
      description: 'Comma-separated model directories the worker loads (ONNX export layout).',
    }),
    workerId: variable({
      env: 'SDBOT_WORKER_ID',
      schema: z.preprocess(fromText, z.string().regex(LIMITS.idPattern)).optional(),
      description: 'Worker id in heartbeats and results (default: host name and a random suffix).',
    }),
    slots: variable({
      env: 'SDBOT_WORKER_SLOTS',
      schema: integer(1, 64),
      default: 1,
      description: 'Jobs a worker makes images for at once (a job being stored frees its slot).',
    }),
    ...ONNX_RUNTIME_VARIABLES,
    safetyChecker: variable({
      env: 'SDBOT_SAFETY_CHECKER',
      schema: toggle,
      default: true,
      description: 'Run the safety checker; a model without one refuses to start unless this is off.',
    }),
    watermark: variable({
      env: 'SDBOT_WATERMARK',
      schema: toggle,
      default: true,
      description: 'Embed the invisible watermark in every image.',
    }),
    watermarkText: variable({
      env: 'SDBOT_WATERMARK_TEXT',
      schema: z.string().min(1).max(64),
      default: 'StableDiffusionV1',
      description: 'Watermark payload (UTF-8).',
    }),
    heartbeatIntervalMs: variable({
      env: 'SDBOT_HEARTBEAT_INTERVAL',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_HEARTBEAT_INTERVAL),
      default: '5s',
      description: 'How often a worker reports itself; it disappears after three missed heartbeats.',
    }),
    shutdownGraceMs: variable({
      env: 'SDBOT_SHUTDOWN_GRACE',
      schema: duration(DURATION_MINIMUMS_MS.SDBOT_SHUTDOWN_GRACE),
      default: '20s',
      description: 'On SIGTERM, how long a worker may finish running jobs before handing them back.',
    }),
    jobTimeoutMs: variable({
      env: 'SDBOT_JOB_TIMEOUT',
      schema: durationAtLeast(5000, '5s'),
      default: '10m',
      description:
        'Longest a worker spends on one job (from start to outcome) before failing it with TIMEOUT; at least 5s.',
    }),
    previewEvery: variable({
      env: 'SDBOT_PREVIEW_EVERY',
      schema: integer(0, 1000),
      default: 5,
      description: 'Publish a preview image every N steps (0: never).',
    }),
    upscalers: variable({
      env: 'SDBOT_UPSCALERS',
      schema: list,
      default: [],
      description: 'Comma-separated super-resolution models the worker loads (a directory with one .onnx).',
    }),
    upscaleTile: variable({
      env: 'SDBOT_UPSCALE_TILE',
      schema: integer(0, 4096),
      default: 256,
      description: 'Upscaler tile side in input pixels (0: whole image; memory grows with the tile).',
    }),
    upscaleOverlap: variable({
      env: 'SDBOT_UPSCALE_OVERLAP',
      schema: integer(0, 1024),
      default: 32,
      description: 'Pixels neighbouring upscaler tiles share and blend (under half the tile).',
    }),
  },
  limits: {
    maxPixels: variable({
      env: 'SDBOT_MAX_PIXELS',
      schema: integer(LIMITS.size.min ** 2, LIMITS.size.max ** 2),
      default: LIMITS.defaultMaxPixels,
      description: 'Largest width x height a job may ask for.',
    }),
    maxInputPixels: variable({
      env: 'SDBOT_MAX_INPUT_PIXELS',
      schema: integer(LIMITS.size.min ** 2, 1_000_000_000),
      default: LIMITS.defaultMaxInputPixels,
      description:
        'Largest width x height of an image that is decoded (img2img sources, watermark detect, safety-check).',
    }),
    maxSourceBytes: variable({
      env: 'SDBOT_MAX_SOURCE_BYTES',
      schema: integer(1024, 1024 ** 3),
      default: LIMITS.defaultMaxSourceBytes,
      description: 'Largest source image (bytes) a worker reads from the object store.',
    }),
    defaultModel: variable({
      env: 'SDBOT_DEFAULT_MODEL',
      schema: z.preprocess(fromText, z.string().regex(LIMITS.idPattern)).optional(),
      description: 'Model used when a request names none (default: the first one online).',
    }),
    defaultScheduler: variable({
      env: 'SDBOT_DEFAULT_SCHEDULER',
      schema: z.enum(SCHEDULER_NAMES),
      default: 'pndm',
      description: 'Scheduler used when a request names none.',
    }),
    defaultSteps: variable({
      env: 'SDBOT_DEFAULT_STEPS',
      schema: integer(LIMITS.steps.min, LIMITS.steps.max),
      default: 30,
      description: 'Steps used when a request names none.',
    }),
    defaultGuidance: variable({
      env: 'SDBOT_DEFAULT_GUIDANCE',
      schema: decimal(LIMITS.guidance.min, LIMITS.guidance.max),
      default: 7.5,
      description: 'Guidance scale used when a request names none.',
    }),
    variationStrength: variable({
      env: 'SDBOT_VARIATION_STRENGTH',
      schema: decimal(0, 1),
      default: 0.6,
      description: 'img2img strength of V buttons (guilds may override).',
    }),
  },
  rateLimits: {
    guildJobsPerMinute: variable({
      env: 'SDBOT_GUILD_JOBS_PER_MINUTE',
      schema: integer(1, 10_000),
      default: 20,
      description: 'Jobs per minute a guild may start (token bucket refill).',
    }),
    guildBurst: variable({
      env: 'SDBOT_GUILD_BURST',
      schema: integer(1, 10_000),
      default: 10,
      description: 'Jobs a guild may start at once before the per-minute rate applies.',
    }),
    userJobsPerMinute: variable({
      env: 'SDBOT_USER_JOBS_PER_MINUTE',
      schema: integer(1, 10_000),
      default: 6,
      description: 'Jobs per minute a user may start.',
    }),
    userBurst: variable({
      env: 'SDBOT_USER_BURST',
      schema: integer(1, 10_000),
      default: 3,
      description: 'Jobs a user may start at once before the per-minute rate applies.',
    }),
    userMaxConcurrent: variable({
      env: 'SDBOT_USER_MAX_CONCURRENT',
      schema: integer(1, 100),
      default: 2,
      description: 'Queued or running jobs a user may have at once.',
    }),
    guildMaxQueued: variable({
      env: 'SDBOT_GUILD_MAX_QUEUED',
      schema: integer(1, 10_000),
      default: 25,
      description: 'Queued jobs a guild may have at once.',
    }),
  },
  metrics: {
    port: variable({
      env: 'SDBOT_METRICS_PORT',
      schema: integer(0, 65_535).optional(),
      description: 'Port of the Prometheus /metrics endpoint (unset: no endpoint).',
    }),
  },
  models: {
    hfToken: variable({
      env: 'HF_TOKEN',
      schema: text.optional(),
      description: 'Hugging Face access token for `sdbot models download` (gated or private repositories).',
      secret: true,
    }),
    hfEndpoint: variable({
      env: 'HF_ENDPOINT',
      schema: url,
      default: 'https://huggingface.co',
      description: 'Hugging Face hub base URL (a mirror, or a local fake hub in tests).',
    }),
  },
} as const;

/** Names the config file itself; read before everything else. */
export const CONFIG_FILE_VARIABLE = 'SDBOT_CONFIG';

/**
 * SDBOT_ variables that are not configuration but must not be refused as typos: SDBOT_SHARED
 * points the tests at the reference folder, and a contributor who exports it still runs commands.
 */
export const NON_CONFIG_VARIABLES: readonly string[] = ['SDBOT_SHARED'];

type Spec = typeof CONFIG_SPEC;
export type Config = {
  readonly [Group in keyof Spec]: {
    readonly [Key in keyof Spec[Group]]: Spec[Group][Key] extends Variable<infer S> ? z.output<S> : never;
  };
};

export interface ConfigVariableInfo {
  env: string;
  group: string;
  key: string;
  default: unknown;
  description: string;
  secret: boolean;
}

/** Flat list of every variable, for docs, `sdbot config` and the README check. */
export function listConfigVariables(): ConfigVariableInfo[] {
  const out: ConfigVariableInfo[] = [
    {
      env: CONFIG_FILE_VARIABLE,
      group: 'config',
      key: 'file',
      default: undefined,
      description: 'Path to a JSON file whose keys are any of these variable names (environment wins).',
      secret: false,
    },
  ];
  for (const [group, variables] of Object.entries(CONFIG_SPEC)) {
    for (const [key, spec] of Object.entries(variables as Record<string, Variable<z.ZodType>>)) {
      out.push({
        env: spec.env,
        group,
        key,
        default: spec.default,
        description: spec.description,
        secret: spec.secret === true,
      });
    }
  }
  return out;
}
