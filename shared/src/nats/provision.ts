/**
 * Creates or updates the JetStream resources sdbot uses: the jobs work queue and its fair-share
 * backlog, results and dead letters streams, the KV buckets, the image object store, and per model
 * the worker consumer and the backlog observer.
 * Idempotent: every component runs it at start and `sdbot nats setup` runs it explicitly.
 * KV buckets and object stores are built as plain streams (the layout of ADR-8 / ADR-20), so one
 * code path can compare and update their settings; only features of nats-server 2.9 are used.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { Config } from '../config.js';
import { LIMITS } from '../limits.js';
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';
import {
  KV_BUCKETS,
  OBJECT_STORES,
  STREAMS,
  SUBJECTS,
  backlogConsumerName,
  jobConsumerName,
  kvStreamName,
  kvSubject,
} from '../names.js';
import { isMissingResource, natsFailure } from './errors.js';
import { withNatsRetry } from './retry.js';

/** The streams a job passes through, and the buckets of its state and of the workers that run it. */
const JOB_PATH_RESOURCES = ['jobs', 'backlog', 'results', 'deadLetters', 'jobState', 'workers'] as const;

export const JETSTREAM_RESOURCES = [
  ...JOB_PATH_RESOURCES,
  'settings',
  'rateLimits',
  'preferences',
  'quotas',
  'dispatch',
  'deliveries',
  'images',
  'previews',
] as const;
export type JetStreamResource = (typeof JETSTREAM_RESOURCES)[number];

/** What a worker and a job client (bot, CLI) need; the bot adds settings and rate limits. */
export const JOB_FLOW_RESOURCES: readonly JetStreamResource[] = [...JOB_PATH_RESOURCES, 'images'];

/**
 * What a requester (bot, CLI) needs: the job flow plus the fair dispatcher's cursor bucket and the
 * previews store. Workers use previews when they exist but do not need them to start, so workers
 * upgraded before the bots (which create the store) still start.
 */
export const REQUESTER_RESOURCES: readonly JetStreamResource[] = [
  ...JOB_FLOW_RESOURCES,
  'dispatch',
  'previews',
];

/**
 * How long a progress preview is kept: it is shown while its job runs, and an interaction (where
 * the bot shows it) lives 15 minutes at most.
 */
export const PREVIEW_MAX_AGE_MS = 15 * 60_000;

/** The KV buckets among the resources, by resource. */
export const KV_RESOURCES = {
  jobState: KV_BUCKETS.jobs,
  workers: KV_BUCKETS.workers,
  settings: KV_BUCKETS.settings,
  rateLimits: KV_BUCKETS.rateLimits,
  preferences: KV_BUCKETS.preferences,
  quotas: KV_BUCKETS.quotas,
  dispatch: KV_BUCKETS.dispatch,
  deliveries: KV_BUCKETS.deliveries,
} as const satisfies Partial<Record<JetStreamResource, string>>;
export type KvResource = keyof typeof KV_RESOURCES;

/** A daily quota count is read until its UTC day ends; two days keeps it past any clock skew. */
export const QUOTA_TTL_MS = 2 * 24 * 60 * 60 * 1000;

/** Rate-limit state untouched for a day is dropped: by then every slot it holds has expired. */
export const RATE_LIMIT_STATE_TTL_MS = 24 * 60 * 60 * 1000;

/** A worker is gone once this many heartbeats are missed (the workers bucket's TTL). */
export const HEARTBEATS_PER_TTL = 3;

const NANOS_PER_MS = 1_000_000;
const nanos = (ms: number) => ms * NANOS_PER_MS;
/** Largest KV value: a job state record holds the job (prompts) and image references. */
const KV_VALUE_MAX_BYTES = 128 * 1024;

export function objectStoreStreamName(store: string): string {
  return `OBJ_${store}`;
}

type DesiredStream = Pick<StreamConfig, 'name' | 'subjects'> &
  Partial<
    Pick<
      StreamConfig,
      | 'retention'
      | 'storage'
      | 'num_replicas'
      | 'max_age'
      | 'duplicate_window'
      | 'max_msg_size'
      | 'max_msgs_per_subject'
      | 'discard'
      | 'allow_direct'
      | 'allow_rollup_hdrs'
      | 'deny_delete'
    >
  >;

/** Every bucket keeps only the latest value of a key: nothing reads history, compare-and-set needs none. */
function kvStream(bucket: string, replicas: number, ttlMs: number): DesiredStream {
  // The duplicate window may not exceed max_age; 2 minutes is the server's default.
  const window = ttlMs > 0 ? Math.min(ttlMs, 120_000) : 120_000;
  return {
    name: kvStreamName(bucket),
    subjects: [kvSubject(bucket)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(ttlMs),
    duplicate_window: nanos(window),
    max_msg_size: KV_VALUE_MAX_BYTES,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.New,
    allow_direct: true,
    allow_rollup_hdrs: true,
    deny_delete: true,
  };
}

/** The stream settings each resource should have under this configuration. */
export function desiredStreams(config: Config): Record<JetStreamResource, DesiredStream> {
  const js = config.jetstream;
  const replicas = js.replicas;
  const heartbeatTtlMs = config.worker.heartbeatIntervalMs * HEARTBEATS_PER_TTL;
  // The duplicate window may not exceed max_age (0: messages never expire).
  const window = (maxAgeMs: number) =>
    nanos(maxAgeMs > 0 ? Math.min(js.duplicateWindowMs, maxAgeMs) : js.duplicateWindowMs);
  // Queue positions are counted with direct gets (next message by subject).
  const jobQueue = (name: string, subject: string): DesiredStream => ({
    name,
    subjects: [subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(js.jobMaxAgeMs),
    duplicate_window: window(js.jobMaxAgeMs),
    max_msg_size: LIMITS.jobMessageMaxBytes,
    discard: DiscardPolicy.Old,
    allow_direct: true,
  });
  return {
    jobs: jobQueue(STREAMS.jobs, SUBJECTS.jobsAll),
    // The same lifetime and de-duplication as the jobs it holds; the dispatcher reads the oldest
    // job of a lane with direct gets and deletes it by sequence once it is in the jobs stream.
    backlog: jobQueue(STREAMS.backlog, SUBJECTS.backlogAll),
    results: {
      name: STREAMS.results,
      subjects: [SUBJECTS.resultsAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_age: nanos(js.resultMaxAgeMs),
      duplicate_window: window(js.resultMaxAgeMs),
      // One outcome per job: a late duplicate outside the window replaces, never adds.
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.Old,
    },
    deadLetters: {
      name: STREAMS.deadLetters,
      subjects: [SUBJECTS.deadLettersAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_age: nanos(js.deadLetterMaxAgeMs),
      duplicate_window: window(js.deadLetterMaxAgeMs),
      discard: DiscardPolicy.Old,
    },
    jobState: kvStream(KV_BUCKETS.jobs, replicas, js.jobStateTtlMs),
    workers: kvStream(KV_BUCKETS.workers, replicas, heartbeatTtlMs),
    settings: kvStream(KV_BUCKETS.settings, replicas, 0),
    rateLimits: kvStream(KV_BUCKETS.rateLimits, replicas, RATE_LIMIT_STATE_TTL_MS),
    preferences: kvStream(KV_BUCKETS.preferences, replicas, 0),
    quotas: kvStream(KV_BUCKETS.quotas, replicas, QUOTA_TTL_MS),
    dispatch: kvStream(KV_BUCKETS.dispatch, replicas, 0),
    // Records of jobs whose outcome the bot still owes Discord live as long as the job's state.
    deliveries: kvStream(KV_BUCKETS.deliveries, replicas, js.jobStateTtlMs),
    images: {
      name: objectStoreStreamName(OBJECT_STORES.images),
      subjects: [`$O.${OBJECT_STORES.images}.C.>`, `$O.${OBJECT_STORES.images}.M.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_age: nanos(js.resultMaxAgeMs),
      discard: DiscardPolicy.New,
      allow_direct: true,
      allow_rollup_hdrs: true,
    },
    previews: {
      name: objectStoreStreamName(OBJECT_STORES.previews),
      subjects: [`$O.${OBJECT_STORES.previews}.C.>`, `$O.${OBJECT_STORES.previews}.M.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_age: nanos(PREVIEW_MAX_AGE_MS),
      discard: DiscardPolicy.Old,
      allow_direct: true,
      allow_rollup_hdrs: true,
    },
  };
}

/** The durable pull consumer all workers of one model share. */
export function jobConsumerConfig(config: Config, model: string): Partial<ConsumerConfig> {
  return {
    durable_name: jobConsumerName(model),
    filter_subject: SUBJECTS.job(model),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.jetstream.ackWaitMs),
    max_deliver: config.jetstream.maxDeliver,
    // Enough for every free slot of a large pool to have a pull request waiting.
    max_waiting: 4096,
    max_ack_pending: 10_000,
  };
}

/**
 * The observer of one model's backlog. A work-queue stream allows one consumer per subject filter,
 * and nothing pulls from this one, so its num_pending is the model's backlog (what KEDA reads).
 */
export function backlogConsumerConfig(model: string): Partial<ConsumerConfig> {
  return {
    durable_name: backlogConsumerName(model),
    filter_subject: SUBJECTS.backlogModel(model),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  };
}

export interface ProvisionOptions {
  /** Resources to ensure (default: all of them). */
  resources?: readonly JetStreamResource[];
  /** Models whose worker consumers to ensure. */
  models?: readonly string[];
  logger?: Logger;
}

export interface ProvisionReport {
  created: string[];
  updated: string[];
  unchanged: string[];
}

function sameSubjects(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const left = [...(a ?? [])].sort();
  const right = [...(b ?? [])].sort();
  return left.length === right.length && left.every((subject, index) => subject === right[index]);
}

/** Fields of `desired` that the existing stream does not match. */
function streamDrift(existing: StreamConfig, desired: DesiredStream): string[] {
  const drift: string[] = [];
  if (!sameSubjects(existing.subjects, desired.subjects)) drift.push('subjects');
  for (const key of Object.keys(desired) as (keyof DesiredStream)[]) {
    if (key === 'subjects' || key === 'name') continue;
    const want = desired[key];
    // The server leaves false flags out of stream info.
    const have = (existing as Partial<StreamConfig>)[key] ?? (typeof want === 'boolean' ? false : undefined);
    if (have !== want) drift.push(key);
  }
  return drift;
}

async function ensureStream(
  jsm: JetStreamManager,
  desired: DesiredStream,
  report: ProvisionReport,
  logger: Logger | undefined,
): Promise<void> {
  let existing: StreamConfig | undefined;
  try {
    existing = (await jsm.streams.info(desired.name)).config;
  } catch (error) {
    if (!isMissingResource(error)) throw natsFailure(error, `reading stream ${desired.name}`);
  }
  if (existing === undefined) {
    try {
      await jsm.streams.add(desired);
    } catch (error) {
      throw natsFailure(error, `creating stream ${desired.name}`);
    }
    report.created.push(desired.name);
    logger?.info({ stream: desired.name }, LOG_EVENTS.stream.created);
    return;
  }
  const drift = streamDrift(existing, desired);
  if (drift.length === 0) {
    report.unchanged.push(desired.name);
    return;
  }
  // nats-server 2.11+ stamps its own `_nats.*` metadata on streams; it is not ours to send back.
  const metadata = Object.fromEntries(
    Object.entries(existing.metadata ?? {}).filter(([key]) => !key.startsWith('_nats')),
  );
  const { metadata: _ignored, ...settings } = existing;
  try {
    await jsm.streams.update(desired.name, {
      ...settings,
      ...desired,
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    });
  } catch (error) {
    throw natsFailure(error, `updating ${drift.join(', ')} of stream ${desired.name}`);
  }
  report.updated.push(desired.name);
  logger?.info({ stream: desired.name, changed: drift }, LOG_EVENTS.stream.updated);
}

async function ensureJobConsumer(
  jsm: JetStreamManager,
  config: Config,
  model: string,
  report: ProvisionReport,
  logger: Logger | undefined,
): Promise<void> {
  const desired = jobConsumerConfig(config, model);
  const name = jobConsumerName(model);
  let existing: ConsumerConfig | undefined;
  try {
    existing = (await jsm.consumers.info(STREAMS.jobs, name)).config;
  } catch (error) {
    if (!isMissingResource(error)) throw natsFailure(error, `reading consumer ${name}`);
  }
  if (existing === undefined) {
    try {
      await jsm.consumers.add(STREAMS.jobs, desired);
    } catch (error) {
      throw natsFailure(error, `creating consumer ${name}`);
    }
    report.created.push(`${STREAMS.jobs}/${name}`);
    logger?.info({ consumer: name, role: 'worker' }, LOG_EVENTS.consumer.created);
    return;
  }
  if (existing.filter_subject !== desired.filter_subject) {
    throw natsFailure(
      new Error(`filters ${existing.filter_subject ?? '(none)'}, expected ${desired.filter_subject ?? ''}`),
      `consumer ${name}`,
    );
  }
  if (existing.ack_wait === desired.ack_wait && existing.max_deliver === desired.max_deliver) {
    report.unchanged.push(`${STREAMS.jobs}/${name}`);
    return;
  }
  try {
    await jsm.consumers.update(STREAMS.jobs, name, {
      ack_wait: nanos(config.jetstream.ackWaitMs),
      max_deliver: config.jetstream.maxDeliver,
    });
  } catch (error) {
    throw natsFailure(error, `updating ack wait / max deliver of consumer ${name}`);
  }
  report.updated.push(`${STREAMS.jobs}/${name}`);
  logger?.info({ consumer: name, role: 'worker' }, LOG_EVENTS.consumer.updated);
}

async function ensureBacklogObserver(
  jsm: JetStreamManager,
  model: string,
  report: ProvisionReport,
  logger: Logger | undefined,
): Promise<void> {
  const name = backlogConsumerName(model);
  const label = `${STREAMS.backlog}/${name}`;
  try {
    await jsm.consumers.info(STREAMS.backlog, name);
    report.unchanged.push(label);
    return;
  } catch (error) {
    if (!isMissingResource(error)) throw natsFailure(error, `reading consumer ${name}`);
  }
  try {
    await jsm.consumers.add(STREAMS.backlog, backlogConsumerConfig(model));
  } catch (error) {
    throw natsFailure(error, `creating consumer ${name}`);
  }
  report.created.push(label);
  logger?.info({ consumer: name, role: 'backlog observer' }, LOG_EVENTS.consumer.created);
}

/**
 * Ensures the requested resources exist with the configured settings. A user without the right to
 * create or update a resource gets PERMISSION_DENIED naming it; run `sdbot nats setup` as the bot
 * or admin user first.
 */
export async function provisionJetStream(
  jsm: JetStreamManager,
  config: Config,
  { resources = JETSTREAM_RESOURCES, models = [], logger }: ProvisionOptions = {},
): Promise<ProvisionReport> {
  const streams = desiredStreams(config);
  // Idempotent, so a pass cut short by a restart or a leader election simply runs again.
  return withNatsRetry(
    'provisioning JetStream',
    async () => {
      const report: ProvisionReport = { created: [], updated: [], unchanged: [] };
      for (const resource of resources) await ensureStream(jsm, streams[resource], report, logger);
      for (const model of models) {
        await ensureJobConsumer(jsm, config, model, report, logger);
        await ensureBacklogObserver(jsm, model, report, logger);
      }
      return report;
    },
    { ...(logger === undefined ? {} : { logger }), alsoRetry: lostCreateRace },
  );
}

/**
 * Two processes creating the same stream at once: the loser is told the name or its subjects are
 * taken. The next pass finds the stream and compares its settings instead.
 */
function lostCreateRace(error: unknown): boolean {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return cause instanceof JetStreamApiError && (cause.code === 10058 || cause.code === 10065);
}
