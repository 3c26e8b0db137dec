/**
 * Typed access to the job-state and worker-registry KV buckets. Job state only moves forward:
 * every write is a compare-and-set on the revision that was read, and a terminal state (completed,
 * failed, cancelled) is never overwritten by a late progress update from a slow or dead worker.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../config.js';
import { KV_BUCKETS, jobStateKey, kvStreamName, kvSubject, workerKey } from '../names.js';
import { decodeMessage, encodeMessage, parseOrNull } from '../protocol/codec.js';
import type { Job } from '../protocol/job.js';
import { jobStateRecordSchema, type JobStateRecord, type JobStatus } from '../protocol/state.js';
import { workerHeartbeatSchema, type WorkerHeartbeat } from '../protocol/worker.js';
import { compareAndSet, readEntry, type CompareAndSetResult, type KnownValue } from './cas.js';
import { withNatsRetry } from './retry.js';
import { natsFailure } from './errors.js';
import { KV_RESOURCES, provisionJetStream, type KvResource } from './provision.js';

/** Opens a bucket created by provisioning; reads go through direct get (nats-server 2.9+). */
export async function openBucket(js: JetStreamClient, bucket: string): Promise<KV> {
  try {
    return await new Kvm(js).open(bucket, { allow_direct: true });
  } catch (error) {
    throw natsFailure(error, `opening KV bucket ${bucket}`);
  }
}

/**
 * Opens one of sdbot's buckets for a process that may be its first user: its stream is created, or
 * brought to the configured settings, the same way `sdbot nats setup` does it.
 */
export async function openProvisionedBucket(
  connection: NatsConnection,
  resource: KvResource,
  config: Config,
): Promise<KV> {
  const jsm = await jetstreamManager(connection).catch((error: unknown) => {
    throw natsFailure(error, 'opening JetStream');
  });
  await provisionJetStream(jsm, config, { resources: [resource] });
  return openBucket(jetstream(connection), KV_RESOURCES[resource]);
}

export function isTerminalStatus(status: JobStatus): boolean {
  return status.state === 'completed' || status.state === 'failed' || status.state === 'cancelled';
}

export interface JobStateEntry {
  record: JobStateRecord;
  revision: number;
}

/** What a state change decided: the record now stored, and whether this call wrote it. */
export interface JobStateChange {
  record: JobStateRecord | undefined;
  changed: boolean;
  /** The stored record with its revision, for the next compare-and-set without a read. */
  entry: JobStateEntry | null;
}

export interface TransitionOptions {
  now?: number;
  /** Whether the current (non-null) record may move to the new status; default: not terminal. */
  allow?: (current: JobStateRecord) => boolean;
  /** The last entry this process read or wrote: the first attempt skips the read. */
  known?: JobStateEntry | null;
}

export class JobStateStore {
  constructor(private readonly kv: KV) {}

  static async open(js: JetStreamClient): Promise<JobStateStore> {
    return new JobStateStore(await openBucket(js, KV_BUCKETS.jobs));
  }

  async get(jobId: string): Promise<JobStateEntry | null> {
    const entry = await readEntry(this.kv, jobStateKey(jobId), `the state of job ${jobId}`);
    if (entry?.operation !== 'PUT') return null;
    return { record: decodeMessage(jobStateRecordSchema, entry.value), revision: entry.revision };
  }

  /**
   * The revision of a job's state while it is `queued`, or null (another state, none, or a read that
   * failed). A dispatcher moving the job hands it on (STATE_REVISION_HEADER) so the worker writes
   * `started` without reading first; a revision stale by then only makes that write read again.
   */
  async queuedRevision(jobId: string): Promise<number | null> {
    const entry = await this.get(jobId).catch(() => null);
    return entry?.record.status.state === 'queued' ? entry.revision : null;
  }

  /**
   * Records a job as queued unless something (a fast worker) recorded it first. `where` is its
   * sequence in the backlog or in the jobs stream, if known: a queued record that has neither
   * gets it added. Returns the revision it wrote, or null when it left the record alone.
   */
  async createQueued(
    job: Job,
    where: { jobStreamSeq?: number } | { backlogSeq: number },
    now = Date.now(),
  ): Promise<number | null> {
    const record: JobStateRecord = { v: 1, job, status: { state: 'queued' }, ...where, updatedAt: now };
    // A new job has no state yet: create it without reading first (a create fails when the key
    // exists, and the retry then reads what is there).
    const result = await this.write(
      job.id,
      (current) => {
        if (current === null) return record;
        const placed = current.backlogSeq !== undefined || current.jobStreamSeq !== undefined;
        return current.status.state === 'queued' && !placed && Object.keys(where).length > 0
          ? { ...current, ...where }
          : undefined;
      },
      null,
    );
    return result.written ? result.revision : null;
  }

  /**
   * Applies `decide` to the current record (null when there is none) and stores its answer with
   * compare-and-set, retrying when another writer got in between. `undefined` means "leave it".
   */
  async update(
    jobId: string,
    decide: (current: JobStateRecord | null) => JobStateRecord | undefined,
    known?: JobStateEntry | null,
  ): Promise<JobStateChange> {
    // Only a known record skips the read; "known to be absent" is read again, as it may be stale.
    const result = await this.write(
      jobId,
      decide,
      known ? { value: known.record, revision: known.revision } : undefined,
    );
    const record = result.after ?? undefined;
    const entry =
      record === undefined || result.revision === null ? null : { record, revision: result.revision };
    return { record, changed: result.written, entry };
  }

  private write(
    jobId: string,
    decide: (current: JobStateRecord | null) => JobStateRecord | undefined,
    known: KnownValue<JobStateRecord | null> | null | undefined,
  ): Promise<CompareAndSetResult<JobStateRecord | null>> {
    return compareAndSet<JobStateRecord | null, JobStateRecord>(this.kv, jobStateKey(jobId), {
      what: `the state of job ${jobId}`,
      read: (entry) => (entry === null ? null : decodeMessage(jobStateRecordSchema, entry.value)),
      change: decide,
      encode: (record) => encodeMessage(jobStateRecordSchema, record),
      ...(known === undefined ? {} : { known }),
    });
  }

  /**
   * Moves a job to `status` unless it already reached a terminal state (or `allow` refuses).
   * The job itself is needed only when no record exists yet.
   */
  async transition(
    job: Job,
    status: JobStatus,
    {
      now = Date.now(),
      allow = (current: JobStateRecord) => !isTerminalStatus(current.status),
      known,
    }: TransitionOptions = {},
  ): Promise<JobStateChange> {
    return this.update(
      job.id,
      (current) => {
        if (current === null) return { v: 1, job, status, updatedAt: now };
        if (!allow(current)) return undefined;
        return { ...current, status, updatedAt: now };
      },
      known,
    );
  }
}

/** Who is online: one heartbeat per worker, expiring with the bucket's TTL. */
export class WorkerRegistry {
  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
  ) {}

  static async open(js: JetStreamClient): Promise<WorkerRegistry> {
    return new WorkerRegistry(await openBucket(js, KV_BUCKETS.workers), await js.jetstreamManager());
  }

  async put(heartbeat: WorkerHeartbeat): Promise<void> {
    try {
      await this.kv.put(workerKey(heartbeat.workerId), encodeMessage(workerHeartbeatSchema, heartbeat));
    } catch (error) {
      throw natsFailure(error, `publishing the heartbeat of worker ${heartbeat.workerId}`);
    }
  }

  async remove(workerId: string): Promise<void> {
    try {
      await this.kv.delete(workerKey(workerId));
    } catch (error) {
      throw natsFailure(error, `removing worker ${workerId} from the registry`);
    }
  }

  /** Live workers, sorted by id. */
  async list(): Promise<WorkerHeartbeat[]> {
    return this.read(await this.keys());
  }

  /**
   * The keys of the heartbeats in the bucket (one request). They are listed from the stream's
   * per-subject counts rather than a KV watcher, so readers need no consumer (and no permission
   * to create one).
   */
  async keys(): Promise<string[]> {
    const prefix = kvSubject(KV_BUCKETS.workers, '');
    const info = await withNatsRetry('listing workers', () =>
      this.jsm.streams.info(kvStreamName(KV_BUCKETS.workers), {
        subjects_filter: kvSubject(KV_BUCKETS.workers),
      }),
    );
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  /** The live workers among `keys`, sorted by id. */
  async read(keys: readonly string[]): Promise<WorkerHeartbeat[]> {
    // Read together: one round trip's wait however many workers there are.
    const entries = await Promise.all(keys.map((key) => readEntry(this.kv, key, 'a worker heartbeat')));
    const heartbeats: WorkerHeartbeat[] = [];
    for (const entry of entries) {
      if (entry?.operation !== 'PUT') continue;
      // A worker speaking another protocol version is not one this process can send jobs to.
      const heartbeat = parseOrNull(workerHeartbeatSchema, entry.value);
      if (heartbeat !== null) heartbeats.push(heartbeat);
    }
    return heartbeats.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }
}
