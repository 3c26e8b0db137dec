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
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';
import { KV_BUCKETS, OBJECT_STORES, STREAMS, SUBJECTS, requesterLane } from '../names.js';
import { decodeMessage, encodeMessage, validate } from '../protocol/codec.js';
import type { ObjectRef } from '../protocol/common.js';
import { cancelRequestSchema } from '../protocol/control.js';
import { createJobSchema, type Job, type JobInput } from '../protocol/job.js';
import { jobOutcomeSchema, type JobOutcome } from '../protocol/outcome.js';
import { progressSchema, type Progress } from '../protocol/progress.js';
import type { JobStateRecord } from '../protocol/state.js';
import type { WorkerHeartbeat } from '../protocol/worker.js';
import { natsFailure } from './errors.js';
import type { JobsClientMetrics } from './client-metrics.js';
import { FairDispatcher } from './fair-dispatcher.js';
import { JobStateStore, WorkerRegistry, isTerminalStatus, openBucket } from './kv.js';
import { JobImages } from './job-images.js';
import { LiveWorkers, diffusionModelIds, upscalerModels } from './live-workers.js';
import { REQUESTER_RESOURCES, provisionJetStream } from './provision.js';
import { openPreviewStore } from './previews.js';
import { QueuePositions, type QueuePosition } from './queue-position.js';
import { withNatsRetry } from './retry.js';
import { readStoredOutcome } from './stored-outcome.js';

/** A fresh job id: time-ordered, unique, and a valid subject token. */
export function newJobId(prefix = 'job'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

export interface SubmittedJob {
  job: Job;
  /**
   * Where the job went: the work queue when nothing waited in its model's backlog and a worker
   * had room, else its lane of the backlog; `seq` is its sequence in that stream.
   */
  queue: 'work' | 'backlog';
  seq: number;
  /** The job id had been submitted before (within the duplicate window); nothing new was queued. */
  duplicate: boolean;
}

export interface AwaitOutcomeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * The job is submitted on this client after this call: its outcome can only come on the
   * subscription made here, so no stored one is looked up (after a reconnect one still is).
   */
  submitting?: boolean;
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

export class JobsClient {
  private readonly reconnectListeners = new Set<() => void>();
  /** Submission times of jobs this client waits for, for the submit-to-outcome metric. */
  private readonly submittedAt = new Map<string, number>();
  private readonly jobSchema;
  private readonly jobImages: JobImages;
  private readonly positions: QueuePositions;
  private readonly liveWorkerList: LiveWorkers;
  /** The configuration's defaults for what a requester leaves out. */
  readonly defaults: ConfiguredJobDefaults;

  private constructor(
    readonly connection: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly jobStates: JobStateStore,
    readonly workers: WorkerRegistry,
    images: ObjectStore,
    previews: ObjectStore | undefined,
    readonly dispatcher: FairDispatcher,
    private readonly config: Config,
    private readonly logger: Logger | undefined,
    private readonly metrics: JobsClientMetrics | undefined,
  ) {
    this.jobSchema = createJobSchema({ maxPixels: config.limits.maxPixels });
    this.defaults = configuredJobDefaults(config);
    this.jobImages = new JobImages(js, images, previews, logger);
    this.positions = new QueuePositions(jsm, dispatcher, logger);
    this.liveWorkerList = new LiveWorkers(workers);
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
    const retry = logger === undefined ? {} : { logger };
    if (provision) {
      // Retried inside while a server restarts: it only creates what is missing.
      await provisionJetStream(jsm, config, { resources: REQUESTER_RESOURCES, ...retry });
    }
    const js = jetstream(connection);
    const images = await withNatsRetry(
      `opening object store ${OBJECT_STORES.images}`,
      () => new Objm(js).open(OBJECT_STORES.images),
      retry,
    );
    // Opened now when it exists (so the first preview is not slower); otherwise on first use.
    const previews = await openPreviewStore(js).catch(() => undefined);
    const jobStates = await JobStateStore.open(js);
    const workers = await WorkerRegistry.open(js);
    const dispatcher = new FairDispatcher({
      connection,
      js,
      jsm,
      cursors: await openBucket(js, KV_BUCKETS.dispatch),
      jobStates,
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
      previews,
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
    return this.liveWorkerList.now();
  }

  /** Diffusion model ids served by live workers, in worker order, without repeats (no upscalers). */
  async servedModels(): Promise<string[]> {
    return diffusionModelIds(await this.liveWorkerList.now());
  }

  /** Super-resolution models served by live workers, without repeats. */
  async servedUpscalers(): Promise<{ id: string; name: string; scale: number }[]> {
    return upscalerModels(await this.liveWorkerList.now());
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
   * Queues a job: straight in the work queue when no lane of its model's backlog has a job waiting
   * and a worker has room (the dispatcher decides, in its pass), else in its requester's lane of
   * the backlog (guild, direct messages or CLI), from which the fair dispatcher moves it to the
   * workers in turn with the other lanes. A model no live worker serves is refused with
   * UNKNOWN_MODEL instead of waiting forever (checked while the dispatcher reads the queues); a
   * worker that restarts keeps its models known for the registry's TTL.
   */
  async submit(job: Job, { requireServedModel = true } = {}): Promise<SubmittedJob> {
    const lane = requesterLane(job.requester);
    const payload = encodeMessage(this.jobSchema, job);
    const admitted = requireServedModel ? this.liveWorkerList.check(job) : Promise.resolve();
    // Observed here as well: the dispatcher may settle the offer before this awaits it.
    admitted.catch(() => undefined);
    let recorded: Promise<unknown> = Promise.resolve();
    const queued = await this.dispatcher.offer({
      model: job.model,
      lane,
      job: { seq: 0, data: payload, jobId: job.id },
      admitted,
      // Its state is written before the job is sent, so the worker that takes it finds it. Its
      // sequence in the work queue is not known yet: a position there is counted without it.
      queueing: () => {
        const revision = this.jobStates.createQueued(job, {});
        recorded = revision;
        return revision;
      },
    });
    await admitted;
    this.submittedAt.set(job.id, Date.now());
    let submitted: SubmittedJob;
    if (queued === null) {
      // A state sent for a publish that failed gets its backlog sequence there.
      await recorded.catch(() => undefined);
      submitted = await this.submitToBacklog(job, lane, payload);
    } else {
      await recorded;
      submitted = { job, queue: 'work', seq: queued.seq, duplicate: queued.duplicate };
    }
    this.metrics?.recordSubmission(job.model);
    this.logger?.debug(
      { jobId: job.id, model: job.model, queue: submitted.queue, seq: submitted.seq },
      LOG_EVENTS.job.submitted,
    );
    return submitted;
  }

  private async submitToBacklog(job: Job, lane: string, payload: Uint8Array): Promise<SubmittedJob> {
    // The job id is the message id: a publish repeated after a lost acknowledgement is stored once.
    const ack = await withNatsRetry(
      `submitting job ${job.id}`,
      () => this.js.publish(SUBJECTS.backlog(job.model, lane), payload, { msgID: job.id }),
      this.retryOptions(),
    );
    if (!ack.duplicate)
      this.dispatcher.noteSubmitted(job.model, lane, { seq: ack.seq, data: payload, jobId: job.id });
    // Recording the state and dispatching go together: a worker that starts the job first records
    // it itself, and createQueued never overwrites a state that exists. Also after a duplicate: the
    // first attempt may have been stored without its state being recorded. The dispatch is asked
    // for at once (an idle worker should not wait for the dispatcher's timer); once this resolves,
    // a job that found a free slot is in the work queue.
    await Promise.all([
      this.jobStates.createQueued(job, { backlogSeq: ack.seq }),
      this.dispatcher.kick(job.model),
    ]);
    return { job, queue: 'backlog', seq: ack.seq, duplicate: ack.duplicate };
  }

  /** Stores the image an img2img job starts from; the worker reads it from the object store. */
  async uploadSource(jobId: string, bytes: Uint8Array): Promise<ObjectRef> {
    return this.jobImages.uploadSource(jobId, bytes);
  }

  /** Calls `onProgress` for each step a worker reports (ephemeral: missed steps are not replayed). */
  watchProgress(jobId: string, onProgress: (progress: Progress) => void): { stop(): void } {
    const subscription = this.connection.subscribe(SUBJECTS.progress(jobId), {
      callback: (error, message) => {
        if (error !== null) return;
        try {
          onProgress(decodeMessage(progressSchema, message.data));
        } catch (invalid) {
          this.logger?.warn({ jobId, err: invalid, reason: 'invalid message' }, LOG_EVENTS.progress.ignored);
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
    return withNatsRetry(
      `looking up the outcome of job ${jobId}`,
      () => readStoredOutcome(this.jsm, jobId),
      this.retryOptions(),
    );
  }

  /**
   * Resolves with the job's one outcome (result or failure), whether it was published before this
   * call, while waiting, or while the connection was down. Rejects with TIMEOUT or on `signal`.
   */
  awaitOutcome(
    jobId: string,
    { timeoutMs, signal, submitting = false }: AwaitOutcomeOptions = {},
  ): Promise<JobOutcome> {
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
          this.logger?.warn({ jobId, err: error, next: 'keep listening' }, LOG_EVENTS.outcome.lookupFailed);
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
            this.logger?.warn({ jobId, err: invalid, reason: 'invalid message' }, LOG_EVENTS.outcome.ignored);
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
      // The server handles one connection's messages in order, so the subscription is in place
      // before the lookup is answered without waiting for a flush, and before a job submitted
      // after it reaches a worker.
      if (!submitting) lookUp();
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
    const stored = await withNatsRetry(
      'reading the backlog',
      () => this.jsm.direct.getMessage(STREAMS.backlog, { seq: backlogSeq }),
      this.retryOptions(),
    );
    // Gone: a dispatcher already moved it.
    if (stored !== null) await this.dispatcher.move(model, stored);
  }

  async state(jobId: string): Promise<JobStateRecord | null> {
    return (await this.jobStates.get(jobId))?.record ?? null;
  }

  /**
   * Where a waiting job stands, or null when it is not waiting (running, finished, unknown); see
   * QueuePositions for how it is counted.
   */
  async queuePosition(jobId: string, { limit = 100 } = {}): Promise<QueuePosition | null> {
    const record = await this.state(jobId);
    return record === null ? null : this.positions.of(record, { limit });
  }

  /**
   * Reads an image (result, preview or source) from the object store; gives up after `timeoutMs`
   * with TIMEOUT (an object replaced while it is read loses the chunks the reader waits for).
   */
  async readImage(ref: ObjectRef, options: { timeoutMs?: number } = {}): Promise<Uint8Array> {
    return this.jobImages.readImage(ref, options);
  }

  private retryOptions(): { logger?: Logger } {
    return this.logger === undefined ? {} : { logger: this.logger };
  }
}
