/**
 * Every log line's message is one of these `noun:verb` events, so logs can be filtered and counted
 * by name. Why it happened (a reason, an error, a retry delay) goes in the line's fields, never in
 * the event text. Grouped by noun: `LOG_EVENTS.job.failed` is `'job:failed'`.
 */
export const LOG_EVENTS = {
  job: {
    submitted: 'job:submitted',
    dispatched: 'job:dispatched',
    started: 'job:started',
    completed: 'job:completed',
    failed: 'job:failed',
    retrying: 'job:retrying',
    cancelled: 'job:cancelled',
    released: 'job:released',
    interrupted: 'job:interrupted',
    skipped: 'job:skipped',
    duplicate: 'job:duplicate',
    ended: 'job:ended',
    rejected: 'job:rejected',
    rejectFailed: 'job:reject-failed',
    deadLettered: 'job:dead-lettered',
    deadLetterFailed: 'job:dead-letter-failed',
    alreadyRemoved: 'job:already-removed',
    stateWriteFailed: 'job:state-write-failed',
    rateLimited: 'job:rate-limited',
    quotaRefused: 'job:quota-refused',
    delivered: 'job:delivered',
    adopted: 'job:adopted',
    adoptFailed: 'job:adopt-failed',
  },
  delivery: {
    failed: 'delivery:failed',
    abandoned: 'delivery:abandoned',
    removeFailed: 'delivery:remove-failed',
  },
  claim: {
    releaseFailed: 'claim:release-failed',
  },
  rateLimit: {
    releaseFailed: 'rate-limit:release-failed',
  },
  quota: {
    releaseFailed: 'quota:release-failed',
  },
  progress: {
    ignored: 'progress:ignored',
    editFailed: 'progress:edit-failed',
    recordFailed: 'progress:record-failed',
  },
  preview: {
    failed: 'preview:failed',
  },
  outcome: {
    ignored: 'outcome:ignored',
    lookupFailed: 'outcome:lookup-failed',
    waitFailed: 'outcome:wait-failed',
  },
  queue: {
    readFailed: 'queue:read-failed',
  },
  state: {
    readFailed: 'state:read-failed',
  },
  cancel: {
    ignored: 'cancel:ignored',
  },
  dispatch: {
    failed: 'dispatch:failed',
    pullsUnheard: 'dispatch:pulls-unheard',
  },
  pull: {
    failed: 'pull:failed',
  },
  heartbeat: {
    failed: 'heartbeat:failed',
  },
  registry: {
    removeFailed: 'registry:remove-failed',
  },
  instance: {
    scanFailed: 'instance:scan-failed',
    removeFailed: 'instance:remove-failed',
    stopFailed: 'instance:stop-failed',
  },
  settings: {
    changed: 'settings:changed',
    readFailed: 'settings:read-failed',
  },
  preferences: {
    changed: 'preferences:changed',
  },
  result: {
    deleted: 'result:deleted',
  },
  interaction: {
    refused: 'interaction:refused',
    failed: 'interaction:failed',
  },
  reply: {
    failed: 'reply:failed',
  },
  discord: {
    errored: 'discord:errored',
    warned: 'discord:warned',
  },
  gateway: {
    disconnected: 'gateway:disconnected',
    resumed: 'gateway:resumed',
  },
  bot: {
    ready: 'bot:ready',
    skipped: 'bot:skipped',
    stopping: 'bot:stopping',
    stopped: 'bot:stopped',
  },
  worker: {
    started: 'worker:started',
    online: 'worker:online',
    offline: 'worker:offline',
    stopping: 'worker:stopping',
    stopForced: 'worker:stop-forced',
    deregisterFailed: 'worker:deregister-failed',
    stopped: 'worker:stopped',
  },
  service: {
    stopping: 'service:stopping',
    stopped: 'service:stopped',
  },
  up: {
    ready: 'up:ready',
    stopping: 'up:stopping',
  },
  nats: {
    started: 'nats:started',
    connecting: 'nats:connecting',
    retrying: 'nats:retrying',
  },
  process: {
    started: 'process:started',
    startFailed: 'process:start-failed',
    restarting: 'process:restarting',
    unhandledRejection: 'process:unhandled-rejection',
    uncaughtException: 'process:uncaught-exception',
  },
  stream: {
    created: 'stream:created',
    updated: 'stream:updated',
  },
  consumer: {
    created: 'consumer:created',
    updated: 'consumer:updated',
  },
  model: {
    loaded: 'model:loaded',
    warmed: 'model:warmed',
    warmUpFailed: 'model:warm-up-failed',
    downloaded: 'model:downloaded',
  },
  provider: {
    fallback: 'provider:fallback',
  },
  inference: {
    failed: 'inference:failed',
  },
  prompt: {
    truncated: 'prompt:truncated',
    chunksLimited: 'prompt:chunks-limited',
  },
  upscale: {
    unavailable: 'upscale:unavailable',
    tile: 'upscale:tile',
    enlarged: 'upscale:enlarged',
    finished: 'upscale:finished',
  },
  upscaler: {
    loaded: 'upscaler:loaded',
  },
  watermark: {
    unverified: 'watermark:unverified',
  },
  safety: {
    disabled: 'safety:disabled',
  },
  vary: {
    /** "Vary this image" opened its form without the image's prompt (unreadable or slow). */
    prefillSkipped: 'vary:prefill-skipped',
  },
} as const;

type EventGroups = typeof LOG_EVENTS;

/** One log event name, e.g. `'job:failed'`. */
export type LogEvent = {
  [Noun in keyof EventGroups]: EventGroups[Noun][keyof EventGroups[Noun]];
}[keyof EventGroups];

/** Every event name, for tests and log tooling. */
export const LOG_EVENT_NAMES: readonly LogEvent[] = Object.values(LOG_EVENTS).flatMap(
  (group: Record<string, LogEvent>) => Object.values(group),
);

/** A level method: the message is always a known event; what it is about goes in the fields. */
export interface LogMethod {
  (fields: Record<string, unknown>, event: LogEvent): void;
  (event: LogEvent): void;
}

/**
 * The logger every component takes: pino's, typed so that a message can only be a LOG_EVENTS name.
 * A pino logger is one (pino accepts any string); `child` binds fields such as `jobId`.
 */
export interface Logger {
  level: string;
  fatal: LogMethod;
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  trace: LogMethod;
  child(bindings: Record<string, unknown>, options?: { level?: string }): Logger;
}
