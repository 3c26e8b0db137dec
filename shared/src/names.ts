/**
 * Every NATS name this project uses: subjects, streams, consumers, KV buckets, object stores.
 * Components never spell a subject themselves; they call these functions, so permissions in
 * deploy/ and the code cannot drift apart.
 */
import { LIMITS } from './limits.js';

export const SUBJECT_ROOT = 'sdbot';

export const STREAMS = {
  /** Work queue of generation jobs, one subject per model. */
  jobs: 'SDBOT_JOBS',
  /**
   * Jobs waiting for their turn, one subject per model and lane (guild, DMs, CLI); the fair
   * dispatcher moves them into the jobs work queue round-robin between lanes.
   */
  backlog: 'SDBOT_BACKLOG',
  /** Outcomes (result or failure) of jobs; survives bot restarts. */
  results: 'SDBOT_RESULTS',
  /** Jobs that could not be processed, with the reason. */
  deadLetters: 'SDBOT_DEAD_LETTERS',
} as const;

export const KV_BUCKETS = {
  /** Job state (queued, started, progress, completed, failed, cancelled), with a TTL. */
  jobs: 'sdbot-jobs',
  /** Worker heartbeats: id, models, provider, free slots, throughput. */
  workers: 'sdbot-workers',
  /** Per-guild settings. */
  settings: 'sdbot-settings',
  /** Rate-limit buckets shared by every bot replica (compare-and-set). */
  rateLimits: 'sdbot-ratelimits',
  /** Results the bot still owes Discord, and which bot replica is delivering them. */
  deliveries: 'sdbot-deliveries',
  /** The fair dispatcher's round-robin cursor per model, shared by every dispatching process. */
  dispatch: 'sdbot-dispatch',
  /** Each member's own defaults (/preferences), kept across servers. */
  preferences: 'sdbot-preferences',
  /** Images made per UTC day, per member of a server and per server, for daily quotas. */
  quotas: 'sdbot-quotas',
} as const;

/**
 * Header of a job in the work queue: the revision of the queued state its submitter wrote just
 * before it, so the worker that takes it can move the state on without reading it first.
 */
export const STATE_REVISION_HEADER = 'Sdbot-State-Revision';

/** The stream behind a KV bucket (the layout nats.js and the nats CLI use). */
export function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

/** The subject a KV bucket stores `key` under; without a key, the wildcard of the whole bucket. */
export function kvSubject(bucket: string, key = '>'): string {
  return `$KV.${bucket}.${key}`;
}

export const OBJECT_STORES = {
  /** Generated images, previews and source images for img2img. */
  images: 'sdbot-images',
  /**
   * Progress previews, apart from the images so that workers never replace or purge anything in
   * the image store; objects expire quickly (PREVIEW_MAX_AGE_MS).
   */
  previews: 'sdbot-previews',
} as const;

function token(kind: string, value: string): string {
  if (!LIMITS.idPattern.test(value)) {
    throw new TypeError(
      `${kind} "${value}" is not a valid subject token (letters, digits, _ and -, 1-64 chars)`,
    );
  }
  return value;
}

export const SUBJECTS = {
  /** Everything the jobs stream captures. */
  jobsAll: `${SUBJECT_ROOT}.jobs.>`,
  job: (model: string) => `${SUBJECT_ROOT}.jobs.${token('model', model)}`,
  backlogAll: `${SUBJECT_ROOT}.backlog.>`,
  /** Every lane of one model's backlog. */
  backlogModel: (model: string) => `${SUBJECT_ROOT}.backlog.${token('model', model)}.*`,
  backlog: (model: string, lane: string) =>
    `${SUBJECT_ROOT}.backlog.${token('model', model)}.${token('lane', lane)}`,
  /** Progress is ephemeral core NATS: losing one update is harmless. */
  progressAll: `${SUBJECT_ROOT}.progress.>`,
  progress: (jobId: string) => `${SUBJECT_ROOT}.progress.${token('job id', jobId)}`,
  resultsAll: `${SUBJECT_ROOT}.results.>`,
  result: (jobId: string) => `${SUBJECT_ROOT}.results.${token('job id', jobId)}`,
  cancelAll: `${SUBJECT_ROOT}.cancel.>`,
  cancel: (jobId: string) => `${SUBJECT_ROOT}.cancel.${token('job id', jobId)}`,
  deadLettersAll: `${SUBJECT_ROOT}.dead.>`,
  deadLetter: (model: string) => `${SUBJECT_ROOT}.dead.${token('model', model)}`,
  /** Workers' pull requests on the work queue's consumers (JetStream's API subject). */
  workerPulls: `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.jobs}.*`,
} as const;

/** The durable pull consumer shared by all workers that serve one model. */
export function jobConsumerName(model: string): string {
  return `workers-${token('model', model)}`;
}

/**
 * The observer consumer of one model's backlog: never pulled, it exists so that its num_pending
 * (the model's backlog) can be read from the monitoring endpoint, where KEDA scales on it.
 */
export function backlogConsumerName(model: string): string {
  return `backlog-${token('model', model)}`;
}

/** Lanes of a model's backlog for direct messages and CLI jobs; guilds use their id. */
export const DM_LANE = 'dm';
export const CLI_LANE = 'cli';

/** The backlog lane of a requester: its guild, else all direct messages, else all CLI jobs. */
export function requesterLane(requester: { source: string; guildId: string | null }): string {
  if (requester.guildId !== null) return token('guild id', requester.guildId);
  return requester.source === 'cli' ? CLI_LANE : DM_LANE;
}

/** Advisory the server publishes when a job exhausts MaxDeliver on a worker consumer. */
export function maxDeliveriesAdvisorySubject(model?: string): string {
  const consumer = model === undefined ? '*' : jobConsumerName(model);
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${STREAMS.jobs}.${consumer}`;
}

/** KV key of a worker's heartbeat. */
export function workerKey(workerId: string): string {
  return token('worker id', workerId);
}

/** KV key of a job's state. */
export function jobStateKey(jobId: string): string {
  return token('job id', jobId);
}

/** Object name of an image of a job. */
export function imageObjectName(jobId: string, index: number): string {
  return `${token('job id', jobId)}/${index}.png`;
}

/**
 * Object name of a progress preview of a job: one per step (in the previews store), so a preview
 * is never replaced while a reader fetches it and the worker needs no right to purge.
 */
export function previewObjectName(jobId: string, step?: number): string {
  return `${token('job id', jobId)}/${step === undefined ? 'preview' : `preview-${String(step)}`}.png`;
}

/** Object name of the image an img2img job starts from. */
export function sourceObjectName(jobId: string): string {
  return `${token('job id', jobId)}/source`;
}

/**
 * Inbox prefixes per role. Each NATS user may subscribe only to its own prefix, so a worker cannot
 * read the replies the bot receives (settings, rate limits) and the other way round.
 */
export const INBOX_PREFIXES = {
  bot: '_INBOX_sdbot_bot',
  worker: '_INBOX_sdbot_worker',
} as const;

export type NatsRole = keyof typeof INBOX_PREFIXES;

/** Queue group in which exactly one worker handles each max-deliveries advisory. */
export const ADVISORY_QUEUE_GROUP = 'sdbot-workers';
