/**
 * The requester's side of distributed generation, shared by the Discord bot and the CLI: check and
 * submit jobs, follow their progress, wait for exactly one outcome, cancel, show queue positions
 * and read result images. Delivery is at-least-once, so outcomes are de-duplicated by job id and
 * looked up in the results stream (which survives restarts) as well as listened for live.
 */
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../config.js';
import { configuredJobDefaults, type ConfiguredJobDefaults } from '../jobs/defaults.js';
import { SdbotError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  KV_BUCKETS,
  OBJECT_STORES,
  STREAMS,
  SUBJECTS,
  jobConsumerName,
  requesterLane,
  sourceObjectName,
} from '../names.js';
import { decodeMessage, encodeMessage, validate } from '../protocol/codec.js';
import { IMAGE_CONTENT_TYPES, type ObjectRef } from '../protocol/common.js';
import { cancelRequestSchema } from '../protocol/control.js';
import { createJobSchema, type Job, type JobInput } from '../protocol/job.js';
import { jobOutcomeSchema, type JobOutcome } from '../protocol/outcome.js';
import { progressSchema, type Progress } from '../protocol/progress.js';
import type { JobStateRecord } from '../protocol/state.js';
import type { WorkerHeartbeat } from '../protocol/worker.js';
import { isMissingResource, natsFailure } from './errors.js';
import type { JobsClientMetrics } from './client-metrics.js';
import { FairDispatcher, backlogLanes, estimateBacklogAhead, readyPending } from './fair-dispatcher.js';
import { JobStateStore, WorkerRegistry, isTerminalStatus, openBucket } from './kv.js';
import { REQUESTER_RESOURCES, provisionJetStream } from './provision.js';

/** A fresh job id: time-ordered, unique, and a valid subject token. */
export function newJobId(prefix = 'job'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

export interface SubmittedJob {
  job: Job;
  /** Sequence of the job in the backlog stream, where it waits for its lane's turn. */
  seq: number;
  /** The job id had been submitted before (within the duplicate window); nothing new was queued. */
  duplicate: boolean;
}

export interface QueuePosition {
  /**
   * Jobs of the same model that should run before this one. Exact in the work queue; in the
   * backlog an estimate of the round-robin between lanes (other lanes keep submitting).
   */
  ahead: number;
  /** Counting stopped at the limit: at least `ahead` jobs are in front. */
  capped: boolean;
}

export interface AwaitOutcomeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JobsClientOptions {
  /** Create or update the streams and buckets first (default true). */
  provision?: boolean;
  /**
   * Run a fair dispatcher that moves backlog jobs (anyone's, not only this client's) into the work
   * queue (default true). Needs a NATS user allowed to do so: the bot user or the admin.
   */
  dispatch?: boolean;
  logger?: Logger;
  metrics?: JobsClientMetrics;
}

/** Longest wait for an image read (objects are at most a few MiB on the same NATS). */
const IMAGE_READ_TIMEOUT_MS = 30_000;

function sniffImageType(bytes: Uint8Array): ObjectRef['contentType'] | undefined {
  const starts = (...signature: number[]) => signature.every((byte, index) => bytes[index] === byte);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45) return 'image/webp';
  return undefined;
}

export class JobsClient {
  private readonly reconnectListeners = new Set<() => void>();
  /** Submission times of jobs this client waits for, for the submit-to-outcome metric. */
  private readonly submittedAt = new Map<string, number>();
  private readonly jobSchema;
  /** The configuration's defaults for what a requester leaves out. */
  readonly defaults: ConfiguredJobDefaults;

  private constructor(
    readonly connection: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly jobStates: JobStateStore,
    readonly workers: WorkerRegistry,
    private readonly images: ObjectStore,
    readonly dispatcher: FairDispatcher,
    private readonly config: Config,
    private readonly logger: Logger | undefined,
    private readonly metrics: JobsClientMetrics | undefined,
  ) {
    this.jobSchema = createJobSchema({ maxPixels: config.limits.maxPixels });
    this.defaults = configuredJobDefaults(config);
    void this.watchReconnects();
  }

  static async open(
    connection: NatsConnection,
    config: Config,
    { provision = true, dispatch = true, logger, metrics }: JobsClientOptions = {},
  ): Promise<JobsClient> {
    const jsm = await jetstreamManager(connection).catch((error: unknown) => {
      throw natsFailure(error, 'opening JetStream');
    });
    if (provision) {
      await provisionJetStream(jsm, config, {
        resources: REQUESTER_RESOURCES,
        ...(logger === undefined ? {} : { logger }),
      });
    }
    const js = jetstream(connection);
    const images = await new Objm(js).open(OBJECT_STORES.images).catch((error: unknown) => {
      throw natsFailure(error, `opening object store ${OBJECT_STORES.images}`);
    });
    const jobStates = await JobStateStore.open(js);
    const workers = await WorkerRegistry.open(js);
    const dispatcher = new FairDispatcher({
      connection,
      js,
      jsm,
      workers,
      cursors: await openBucket(js, KV_BUCKETS.dispatch),
      ...(logger === undefined ? {} : { logger }),
    });
    if (dispatch) dispatcher.start();
    return new JobsClient(
      connection,
      js,
      jsm,
      jobStates,
      workers,
      images,
      dispatcher,
      config,
      logger,
      metrics,
    );
  }

  private async watchReconnects(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === 'reconnect') for (const listener of this.reconnectListeners) listener();
    }
  }

  /**
   * Checks a job against this deployment's limits (SDBOT_MAX_PIXELS) before anything is stored;
   * a ValidationError names each bad field.
   */
  checkJob(job: JobInput): Job {
    return validate(this.jobSchema, job);
  }

  /** Heartbeats currently in the registry (a worker vanishes three missed heartbeats after dying). */
  async liveWorkers(): Promise<WorkerHeartbeat[]> {
    return this.workers.list();
  }

  /** Diffusion model ids served by live workers, in worker order, without repeats (no upscalers). */
  async servedModels(): Promise<string[]> {
    const ids = (await this.liveWorkers()).flatMap((worker) =>
      worker.models.flatMap((model) => (model.upscaler === undefined ? [model.id] : [])),
    );
    return [...new Set(ids)];
  }

  /** Super-resolution models served by live workers, without repeats. */
  async servedUpscalers(): Promise<{ id: string; name: string; scale: number }[]> {
    const found = new Map<string, { id: string; name: string; scale: number }>();
    for (const worker of await this.liveWorkers()) {
      for (const model of worker.models) {
        if (model.upscaler !== undefined && !found.has(model.id)) {
          found.set(model.id, { id: model.id, name: model.name, scale: model.upscaler.scale });
        }
      }
    }
    return [...found.values()];
  }

  /** SDBOT_DEFAULT_MODEL, else the first model a live worker serves. */
  async defaultModel(): Promise<string> {
    if (this.config.limits.defaultModel !== undefined) return this.config.limits.defaultModel;
    const [first] = await this.servedModels();
    if (first === undefined) {
      throw new SdbotError('UNKNOWN_MODEL', 'no worker is online: start one with `sdbot worker`');
    }
    return first;
  }

  /**
   * Queues a job in its requester's lane of the backlog (guild, direct messages or CLI), from which
   * the fair dispatcher moves it to the workers in turn with the other lanes. A model no live worker
   * serves is refused with UNKNOWN_MODEL instead of waiting forever; a worker that restarts keeps
   * its models known for the registry's TTL.
   */
  async submit(job: Job, { requireServedModel = true } = {}): Promise<SubmittedJob> {
    if (requireServedModel) {
      // An upscale goes to a super-resolution model, everything else to a diffusion model.
      const served =
        job.kind === 'upscale'
          ? (await this.servedUpscalers()).map((upscaler) => upscaler.id)
          : await this.servedModels();
      if (!served.includes(job.model)) {
        const online = served.length === 0 ? 'no worker is online' : `online: ${served.join(', ')}`;
        throw new SdbotError('UNKNOWN_MODEL', `no worker serves model "${job.model}" (${online})`);
      }
    }
    let ack;
    try {
      const subject = SUBJECTS.backlog(job.model, requesterLane(job.requester));
      ack = await this.js.publish(subject, encodeMessage(this.jobSchema, job), { msgID: job.id });
    } catch (error) {
      throw natsFailure(error, `submitting job ${job.id}`);
    }
    if (!ack.duplicate) await this.jobStates.createQueued(job, { backlogSeq: ack.seq });
    this.metrics?.submitted.inc({ model: job.model });
    this.submittedAt.set(job.id, Date.now());
    // An idle worker should not wait for the dispatcher's timer; once this resolves, a job that
    // found a free slot is in the work queue.
    await this.dispatcher.kick();
    this.logger?.debug({ jobId: job.id, model: job.model, seq: ack.seq }, 'job:submitted');
    return { job, seq: ack.seq, duplicate: ack.duplicate };
  }

  /** Stores the image an img2img job starts from; the worker reads it from the object store. */
  async uploadSource(jobId: string, bytes: Uint8Array): Promise<ObjectRef> {
    const contentType = sniffImageType(bytes);
    if (contentType === undefined) {
      throw new SdbotError('IMAGE_INVALID', `source image must be one of ${IMAGE_CONTENT_TYPES.join(', ')}`);
    }
    const name = sourceObjectName(jobId);
    try {
      const info = await this.images.putBlob({ name }, bytes);
      return { store: OBJECT_STORES.images, name, size: info.size, contentType };
    } catch (error) {
      throw natsFailure(error, `uploading the source image of job ${jobId}`);
    }
  }

  /** Calls `onProgress` for each step a worker reports (ephemeral: missed steps are not replayed). */
  watchProgress(jobId: string, onProgress: (progress: Progress) => void): { stop(): void } {
    const subscription = this.connection.subscribe(SUBJECTS.progress(jobId), {
      callback: (error, message) => {
        if (error !== null) return;
        try {
          onProgress(decodeMessage(progressSchema, message.data));
        } catch (invalid) {
          this.logger?.warn({ jobId, err: invalid }, 'ignoring an invalid progress message');
        }
      },
    });
    return {
      stop: () => {
        subscription.unsubscribe();
      },
    };
  }

  /** The stored outcome of a job, if a worker published one. */
  async findOutcome(jobId: string): Promise<JobOutcome | null> {
    let stored;
    try {
      stored = await this.jsm.streams.getMessage(STREAMS.results, { last_by_subj: SUBJECTS.result(jobId) });
    } catch (error) {
      throw natsFailure(error, `looking up the outcome of job ${jobId}`);
    }
    return stored === null ? null : decodeMessage(jobOutcomeSchema, stored.data);
  }

  /**
   * Resolves with the job's one outcome (result or failure), whether it was published before this
   * call, while waiting, or while the connection was down. Rejects with TIMEOUT or on `signal`.
   */
  awaitOutcome(jobId: string, { timeoutMs, signal }: AwaitOutcomeOptions = {}): Promise<JobOutcome> {
    return new Promise<JobOutcome>((resolve, reject) => {
      const cleanups: (() => void)[] = [];
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        this.submittedAt.delete(jobId);
        for (const cleanup of cleanups) cleanup();
        settle();
      };
      const accept = (outcome: JobOutcome | null) => {
        if (outcome?.jobId !== jobId || settled) return;
        this.metrics?.recordOutcome(outcome, this.submittedAt.get(jobId));
        finish(() => {
          resolve(outcome);
        });
      };
      const fail = (error: SdbotError) => {
        finish(() => {
          reject(error);
        });
      };
      const lookUp = () => {
        this.findOutcome(jobId).then(accept, (error: unknown) => {
          this.logger?.warn({ jobId, err: error }, 'looking up a stored outcome failed; still listening');
        });
      };
      const onAbort = () => {
        fail(new SdbotError('CANCELLED', `stopped waiting for job ${jobId}`));
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => signal?.removeEventListener('abort', onAbort));
      const subscription = this.connection.subscribe(SUBJECTS.result(jobId), {
        callback: (error, message) => {
          if (error !== null) return;
          try {
            accept(decodeMessage(jobOutcomeSchema, message.data));
          } catch (invalid) {
            this.logger?.warn({ jobId, err: invalid }, 'ignoring an invalid outcome message');
          }
        },
      });
      cleanups.push(() => {
        subscription.unsubscribe();
      });
      // A reconnect may have hidden an outcome published meanwhile: the stream still has it.
      this.reconnectListeners.add(lookUp);
      cleanups.push(() => this.reconnectListeners.delete(lookUp));
      if (timeoutMs !== undefined) {
        const timer = setTimeout(() => {
          fail(new SdbotError('TIMEOUT', `job ${jobId} had no outcome after ${timeoutMs} ms`));
        }, timeoutMs);
        cleanups.push(() => {
          clearTimeout(timer);
        });
      }
      // Subscribe first, then look: an outcome published in between is seen by one or the other.
      this.connection.flush().then(lookUp, lookUp);
    });
  }

  /**
   * Cancels a job: its state becomes `cancelled` (unless it already ended) and the worker running
   * it stops within a step. Returns the job's state afterwards (undefined when unknown).
   */
  async cancel(jobId: string, requestedBy: string, now = Date.now()): Promise<JobStateRecord | undefined> {
    const change = await this.jobStates.update(jobId, (current) => {
      if (current === null || isTerminalStatus(current.status)) return undefined;
      return {
        ...current,
        status: { state: 'cancelled', cancelledBy: requestedBy, cancelledAt: now },
        updatedAt: now,
      };
    });
    try {
      this.connection.publish(
        SUBJECTS.cancel(jobId),
        encodeMessage(cancelRequestSchema, { v: 1, jobId, requestedBy, at: now }),
      );
      await this.connection.flush();
    } catch (error) {
      throw natsFailure(error, `cancelling job ${jobId}`);
    }
    const record = change.record;
    if (
      change.changed &&
      record?.status.state === 'cancelled' &&
      record.jobStreamSeq === undefined &&
      record.backlogSeq !== undefined
    ) {
      await this.hurryCancelled(record.job.model, record.backlogSeq);
    }
    return record;
  }

  /**
   * A cancelled job still in the backlog goes to the work queue at once, out of turn: the worker
   * that takes it acknowledges it and publishes its CANCELLED outcome (only workers publish
   * outcomes), so the requester hears back without waiting for the lane's turn.
   */
  private async hurryCancelled(model: string, backlogSeq: number): Promise<void> {
    let stored;
    try {
      stored = await this.jsm.direct.getMessage(STREAMS.backlog, { seq: backlogSeq });
    } catch (error) {
      throw natsFailure(error, 'reading the backlog');
    }
    // Gone: a dispatcher already moved it.
    if (stored !== null) await this.dispatcher.move(model, stored);
  }

  async state(jobId: string): Promise<JobStateRecord | null> {
    return (await this.jobStates.get(jobId))?.record ?? null;
  }

  /**
   * Where a waiting job stands, or null when it is not waiting (running, finished, unknown). In the
   * work queue: the jobs of the same model ahead of it, counted by walking the model's subject from
   * the first undelivered job, up to `limit` steps (the dispatcher keeps that queue short). In the
   * backlog: the work queue's waiting jobs,
   * plus the jobs ahead in its own lane, plus an estimate of the other lanes' turns before it
   * (see estimateBacklogAhead).
   */
  async queuePosition(jobId: string, { limit = 100 } = {}): Promise<QueuePosition | null> {
    const record = await this.state(jobId);
    if (record?.status.state !== 'queued') return null;
    if (record.jobStreamSeq !== undefined)
      return this.readyPosition(record.job.model, record.jobStreamSeq, limit);
    if (record.backlogSeq === undefined) return null;
    const position = await this.backlogPosition(record.job, record.backlogSeq, limit);
    // Dispatched: it is in the work queue (kept short by the dispatcher) unless a worker has it.
    return position ?? this.readyPosition(record.job.model, jobId, limit);
  }

  /** `job`: its sequence in the work queue, or its id when only that is known. */
  private async readyPosition(
    model: string,
    job: number | string,
    limit: number,
  ): Promise<QueuePosition | null> {
    const subject = SUBJECTS.job(model);
    let delivered = 0;
    try {
      delivered = (await this.jsm.consumers.info(STREAMS.jobs, jobConsumerName(model))).delivered.stream_seq;
    } catch (error) {
      if (!isMissingResource(error)) throw natsFailure(error, 'reading the job queue');
    }
    if (typeof job === 'number' && job <= delivered) return null;
    let ahead = 0;
    let cursor = delivered + 1;
    while (ahead < limit) {
      let next;
      try {
        next = await this.jsm.direct.getMessage(STREAMS.jobs, { next_by_subj: subject, seq: cursor });
      } catch (error) {
        throw natsFailure(error, 'reading the job queue');
      }
      if (typeof job === 'string') {
        if (next === null) return null;
        if (next.header.get('Nats-Msg-Id') === job) return { ahead, capped: false };
      } else if (next === null || next.seq >= job) return { ahead, capped: false };
      ahead += 1;
      cursor = next.seq + 1;
    }
    return { ahead, capped: true };
  }

  /** Null when the job is no longer in the backlog. */
  private async backlogPosition(job: Job, mine: number, limit: number): Promise<QueuePosition | null> {
    const lane = requesterLane(job.requester);
    const subject = SUBJECTS.backlog(job.model, lane);
    let index = 0;
    let cursor = 0;
    for (;;) {
      if (index >= limit) return { ahead: index, capped: true };
      let next;
      try {
        next = await this.jsm.direct.getMessage(STREAMS.backlog, { next_by_subj: subject, seq: cursor });
      } catch (error) {
        throw natsFailure(error, 'reading the backlog');
      }
      if (next === null || next.seq > mine) return null;
      if (next.seq === mine) break;
      index += 1;
      cursor = next.seq + 1;
    }
    const lanes =
      (await backlogLanes(this.jsm, SUBJECTS.backlogModel(job.model))).get(job.model) ??
      new Map<string, number>();
    const others = estimateBacklogAhead(lanes, lane, index, await this.dispatcher.lastServedLane(job.model));
    const ahead = (await readyPending(this.jsm, job.model)) + index + others;
    return ahead >= limit ? { ahead: limit, capped: true } : { ahead, capped: false };
  }

  /**
   * Reads an image (result, preview or source) from the object store. An object replaced while it
   * is read (a job's preview is overwritten every few steps) loses the chunks the reader waits for,
   * so reads give up after `timeoutMs` with TIMEOUT instead of waiting forever.
   */
  async readImage(ref: ObjectRef, { timeoutMs = IMAGE_READ_TIMEOUT_MS } = {}): Promise<Uint8Array> {
    if (ref.store !== OBJECT_STORES.images) {
      throw new SdbotError('NOT_FOUND', `unknown object store "${ref.store}"`);
    }
    let found;
    try {
      found = await this.images.get(ref.name);
    } catch (error) {
      throw natsFailure(error, `reading image ${ref.name}`);
    }
    if (found === null) throw new SdbotError('NOT_FOUND', `image ${ref.name} is gone (expired or deleted)`);
    const reader = found.data.getReader();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new SdbotError(
            'TIMEOUT',
            `reading image ${ref.name} took over ${timeoutMs} ms (replaced while read?)`,
          ),
        );
      }, timeoutMs);
    });
    // Only the race observes the timeout; it must not count as unhandled while nothing races.
    timedOut.catch(() => undefined);
    const chunks: Uint8Array[] = [];
    try {
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), timedOut]);
        if (done) break;
        chunks.push(value);
      }
      const failure = await found.error;
      if (failure instanceof Error) throw failure;
    } catch (error) {
      // Cancelling stops the object store's consumer, which would otherwise wait on forever.
      await reader.cancel().catch(() => undefined);
      if (error instanceof SdbotError) throw error;
      throw natsFailure(error, `reading image ${ref.name}`);
    } finally {
      clearTimeout(timer);
    }
    const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  }
}
