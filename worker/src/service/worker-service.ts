/**
 * The worker service: pulls jobs for the models it has loaded, one per free slot, runs them through
 * an ImageGenerator and reports progress, state and outcome over NATS. Delivery is at-least-once,
 * so every job is checked against its stored outcome and state before it runs, and every write
 * that could race (state, outcome) is compare-and-set or de-duplicated by job id.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  JOB_FLOW_RESOURCES,
  JobStateStore,
  LOG_EVENTS,
  WORKER_CAPABILITIES,
  missingCapabilities,
  OBJECT_STORES,
  STREAMS,
  SUBJECTS,
  SdbotError,
  WorkerRegistry,
  isGenerationJob,
  cancelRequestSchema,
  createJobSchema,
  decodeMessage,
  encodeMessage,
  imageObjectName,
  isTerminalStatus,
  jobConsumerName,
  natsFailure,
  openPreviewStore,
  putPreview,
  progressSchema,
  provisionJetStream,
  toSdbotError,
  type Config,
  type Job,
  type JobStateChange,
  type JobStateEntry,
  type JobStateRecord,
  type JobStatus,
  type TransitionOptions,
  type Logger,
  type ObjectRef,
  type Progress,
  type ResultImage,
  type WorkerHeartbeat,
} from '@sdbot/shared';
import { jobIdOf, publishDeadLetter } from './dead-letters.js';
import {
  upscaleWith,
  type GenerationHooks,
  type GenerationOutput,
  type ImageGenerator,
} from './generator.js';
import { MaxDeliveriesHandler } from './max-deliveries.js';
import type { DeliveryOutcome, WorkerMetrics } from './metrics.js';
import { OutcomePublisher, failureOutcome } from './outcomes.js';
import { previewPng } from './preview.js';
import { ThroughputTracker } from './throughput.js';

export interface WorkerServiceOptions {
  connection: NatsConnection;
  generator: ImageGenerator;
  config: Config;
  workerId: string;
  /** Software version shown in heartbeats. */
  version: string;
  logger: Logger;
  metrics?: WorkerMetrics;
}

/** A pull waits this long for a job before asking again (1 s per model when serving several). */
const PULL_EXPIRES_MS = 5000;
const MULTI_MODEL_PULL_EXPIRES_MS = 1000;
/** Job state in KV is updated at most this often while steps advance. */
const STATE_WRITE_INTERVAL_MS = 1000;
/** Longest delay before a retryable failure is offered again. */
const MAX_RETRY_DELAY_MS = 5 * 60_000;

interface RunningJob {
  job: Job;
  controller: AbortController;
}

export class WorkerService {
  private readonly running = new Map<string, RunningJob>();
  private readonly pulls = new Set<ConsumerMessages>();
  private readonly throughput = new ThroughputTracker();
  private readonly jobSchema;
  private readonly startedAt = Date.now();
  private loops: Promise<void>[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private cancelSubscription: Subscription | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;

  private constructor(
    private readonly options: WorkerServiceOptions,
    private readonly js: JetStreamClient,
    private readonly consumers: ReadonlyMap<string, Consumer>,
    private readonly jobStates: JobStateStore,
    private readonly registry: WorkerRegistry,
    private readonly images: ObjectStore,
    private readonly outcomes: OutcomePublisher,
    private readonly maxDeliveries: MaxDeliveriesHandler,
  ) {
    this.jobSchema = createJobSchema({ maxPixels: options.config.limits.maxPixels });
  }

  /** Provisions what the worker needs, starts heartbeats and one pull loop per slot. */
  static async start(options: WorkerServiceOptions): Promise<WorkerService> {
    const { connection, config, generator, logger } = options;
    const models = generator.models.map((model) => model.id);
    const jsm = await jetstreamManager(connection).catch((error: unknown) => {
      throw natsFailure(error, 'opening JetStream');
    });
    await provisionJetStream(jsm, config, { resources: JOB_FLOW_RESOURCES, models, logger });
    const js = jetstream(connection);
    const consumers = new Map<string, Consumer>();
    for (const model of models) {
      consumers.set(
        model,
        await js.consumers.get(STREAMS.jobs, jobConsumerName(model)).catch((error: unknown) => {
          throw natsFailure(error, `opening the job consumer of model ${model}`);
        }),
      );
    }
    const images = await new Objm(js).open(OBJECT_STORES.images).catch((error: unknown) => {
      throw natsFailure(error, `opening object store ${OBJECT_STORES.images}`);
    });
    const jobStates = await JobStateStore.open(js);
    const outcomes = new OutcomePublisher(js, jsm);
    const maxDeliveries = new MaxDeliveriesHandler({
      connection,
      js,
      jsm,
      jobStates,
      outcomes,
      workerId: options.workerId,
      logger,
      metrics: options.metrics,
    });
    const service = new WorkerService(
      options,
      js,
      consumers,
      jobStates,
      await WorkerRegistry.open(js),
      images,
      outcomes,
      maxDeliveries,
    );
    service.begin();
    return service;
  }

  private begin(): void {
    const { config, metrics, logger, workerId, generator, connection } = this.options;
    this.cancelSubscription = connection.subscribe(SUBJECTS.cancelAll, {
      callback: (error, message) => {
        if (error === null) this.onCancelRequest(message.data);
      },
    });
    metrics?.slots.set(config.worker.slots);
    void this.beat();
    this.heartbeatTimer = setInterval(() => void this.beat(), config.worker.heartbeatIntervalMs);
    this.loops = Array.from({ length: config.worker.slots }, (_, slot) => this.pullLoop(slot));
    logger.info(
      { workerId, models: generator.models.map((model) => model.id), slots: config.worker.slots },
      LOG_EVENTS.worker.started,
    );
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** A method, not the field: the flag changes while a pull loop awaits. */
  private isStopping(): boolean {
    return this.stopping;
  }

  /** Models loaded, pulling, and NATS connected. */
  isReady(): boolean {
    return !this.stopping && !this.options.connection.isClosed();
  }

  get previewEvery(): number {
    return this.options.config.worker.previewEvery;
  }

  get freeSlots(): number {
    return Math.max(0, this.options.config.worker.slots - this.running.size);
  }

  heartbeat(now = Date.now()): WorkerHeartbeat {
    const { generator, config, workerId, version } = this.options;
    const { jobsPerMinute, stepsPerSecond, imagesPerSecond } = this.throughput.snapshot(now);
    return {
      v: 1,
      workerId,
      hostname: hostname().slice(0, 255) || 'unknown',
      version,
      models: [...generator.models],
      provider: generator.provider,
      simulated: generator.simulated,
      slots: { total: config.worker.slots, free: this.stopping ? 0 : this.freeSlots },
      throughput: { jobsPerMinute, stepsPerSecond, imagesPerMinute: imagesPerSecond * 60 },
      startedAt: this.startedAt,
      at: now,
      capabilities: this.capabilities(),
    };
  }

  private async beat(): Promise<void> {
    try {
      await this.registry.put(this.heartbeat());
      this.options.metrics?.imagesPerSecond.set(this.throughput.snapshot().imagesPerSecond);
    } catch (error) {
      this.options.logger.warn({ err: error }, LOG_EVENTS.heartbeat.failed);
    }
  }

  private async pullLoop(slot: number): Promise<void> {
    const models = [...this.consumers.keys()];
    const expires = models.length > 1 ? MULTI_MODEL_PULL_EXPIRES_MS : PULL_EXPIRES_MS;
    let turn = slot;
    let failures = 0;
    while (!this.isStopping()) {
      const model = models[turn % models.length] ?? '';
      turn += 1;
      const consumer = this.consumers.get(model);
      if (consumer === undefined) return;
      let message: JsMsg | undefined;
      try {
        message = await this.pullOne(consumer, expires);
        failures = 0;
      } catch (error) {
        if (this.isStopping()) break;
        failures += 1;
        this.options.logger.warn({ err: error, model }, LOG_EVENTS.pull.failed);
        await sleep(Math.min(250 * 2 ** failures, 5000));
        continue;
      }
      if (message === undefined) continue;
      if (this.isStopping()) {
        // Arrived as we stopped: hand it straight to another worker.
        message.nak();
        this.count(model, 'released');
        break;
      }
      await this.process(message, model);
    }
  }

  /** Requests exactly one job: a busy worker never holds jobs an idle one could run. */
  private async pullOne(consumer: Consumer, expires: number): Promise<JsMsg | undefined> {
    const messages = await consumer.fetch({ max_messages: 1, expires });
    this.pulls.add(messages);
    try {
      for await (const message of messages) return message;
      return undefined;
    } finally {
      this.pulls.delete(messages);
    }
  }

  private count(model: string, outcome: DeliveryOutcome): void {
    this.options.metrics?.jobs.inc({ model, outcome });
  }

  private onCancelRequest(data: Uint8Array): void {
    try {
      const request = decodeMessage(cancelRequestSchema, data);
      const running = this.running.get(request.jobId);
      running?.controller.abort(new SdbotError('CANCELLED', `cancelled by ${request.requestedBy}`));
    } catch (error) {
      this.options.logger.warn({ err: error, reason: 'invalid cancel request' }, LOG_EVENTS.cancel.ignored);
    }
  }

  private async process(message: JsMsg, model: string): Promise<void> {
    const { logger, metrics } = this.options;
    const deliveries = message.info.deliveryCount;
    if (deliveries > 1) metrics?.redeliveries.inc({ model });
    let job: Job;
    try {
      const decoded = decodeMessage(this.jobSchema, message.data);
      if (decoded.model !== model) {
        throw new SdbotError(
          'UNKNOWN_MODEL',
          `job names model "${decoded.model}" but was queued for "${model}" (${message.subject})`,
        );
      }
      const missing = missingCapabilities(decoded, new Set(this.capabilities()));
      if (missing.length > 0) {
        throw new SdbotError(
          'UNSUPPORTED_CAPABILITY',
          `this worker cannot run the job: it lacks ${missing.join(', ')}`,
        );
      }
      if (!isGenerationJob(decoded) && this.options.generator.upscale === undefined) {
        throw new SdbotError('INVALID_INPUT', `this worker cannot run ${decoded.kind} jobs`);
      }
      job = decoded;
    } catch (error) {
      await this.reject(
        message,
        model,
        toSdbotError(error),
        jobIdOf(message.data, message.headers?.get('Nats-Msg-Id')),
      );
      return;
    }
    const log = logger.child({ jobId: job.id, model, deliveries });
    try {
      await this.run(message, job, log);
    } catch (error) {
      // NATS went away mid-job: the job comes back after the ack wait (or now, if nak gets through).
      log.error({ err: error }, LOG_EVENTS.job.interrupted);
      message.nak(this.retryDelay(deliveries));
      this.count(model, 'retried');
    }
  }

  private async run(message: JsMsg, job: Job, log: Logger): Promise<void> {
    const { workerId, generator, config, metrics } = this.options;
    const [finished, before] = await Promise.all([this.outcomes.exists(job.id), this.jobStates.get(job.id)]);
    if (finished) {
      log.info({ reason: 'the job already has an outcome' }, LOG_EVENTS.job.duplicate);
      message.ack();
      this.count(job.model, 'duplicate');
      return;
    }
    if (before !== null && (await this.settleEnded(message, job, before.record, log))) return;
    const state = new JobStateTracker(this.jobStates, job, before);
    const startedAt = Date.now();
    // A completed state without an outcome (lost in a server crash) is run again.
    const start = await state.transition(
      { state: 'started', workerId, startedAt },
      {
        now: startedAt,
        allow: (current) => current.status.state === 'completed' || !isTerminalStatus(current.status),
      },
    );
    if (
      !start.changed &&
      start.record !== undefined &&
      (await this.settleEnded(message, job, start.record, log))
    ) {
      return;
    }
    metrics?.queueWait.observe({ model: job.model }, Math.max(0, startedAt - job.createdAt) / 1000);
    log.info(LOG_EVENTS.job.started);

    const controller = new AbortController();
    this.running.set(job.id, { job, controller });
    metrics?.busySlots.set(this.running.size);
    const ackWaitMs = config.jetstream.ackWaitMs;
    let lastWorking = Date.now();
    const keepAlive = setInterval(
      () => {
        message.working();
        lastWorking = Date.now();
      },
      Math.max(250, Math.floor(ackWaitMs / 3)),
    );
    const reporter = new ProgressReporter(this, job, state, controller, log);
    try {
      const sourceImage = job.source === undefined ? undefined : await this.readSource(job.source.image);
      const hooks: GenerationHooks = {
        signal: controller.signal,
        onStep: (step, total, latents) => {
          if (Date.now() - lastWorking > ackWaitMs / 10) {
            message.working();
            lastWorking = Date.now();
          }
          reporter.step(step, total, latents);
        },
      };
      // The one place a job's kind picks what runs it.
      const output = isGenerationJob(job)
        ? await generator.generate(sourceImage === undefined ? { job } : { job, sourceImage }, hooks)
        : await upscaleWith(generator, job, sourceImage, hooks);
      controller.signal.throwIfAborted();
      if (output.truncatedTokens > 0 || (output.negativeTruncatedTokens ?? 0) > 0) {
        log.info(
          {
            syntax: (isGenerationJob(job) ? job.syntax : undefined) ?? 'plain',
            // Counts of tokens cut from each prompt (key names avoid the logger's secret filter).
            cut: { prompt: output.truncatedTokens, negative: output.negativeTruncatedTokens ?? 0 },
            chunkLimit: output.promptChunkLimit,
          },
          LOG_EVENTS.prompt.truncated,
        );
      }
      // The last progress write lands before the final state, so that one needs no re-read.
      await reporter.settled();
      await this.complete(message, job, output, startedAt, state, log);
    } catch (error) {
      await reporter.settled();
      await this.fail(message, job, controller.signal.aborted ? controller.signal.reason : error, state, log);
    } finally {
      clearInterval(keepAlive);
      await reporter.settled();
      this.running.delete(job.id);
      metrics?.busySlots.set(this.running.size);
    }
  }

  /**
   * Handles a job whose state says it already ended (cancelled while queued, or failed before):
   * makes sure its outcome exists, acknowledges it, and returns true. Returns false otherwise.
   */
  private async settleEnded(message: JsMsg, job: Job, record: JobStateRecord, log: Logger): Promise<boolean> {
    const status = record.status;
    if (status.state === 'cancelled') {
      await this.outcomes.publish(
        failureOutcome(job.id, 'CANCELLED', `cancelled by ${status.cancelledBy}`, false),
      );
    } else if (status.state === 'failed') {
      await this.outcomes.publish(failureOutcome(job.id, status.code, status.message, false));
    } else {
      return false;
    }
    log.info({ state: status.state, reason: 'the job already ended' }, LOG_EVENTS.job.skipped);
    message.ack();
    this.count(job.model, status.state === 'cancelled' ? 'cancelled' : 'failed');
    return true;
  }

  private async readSource(ref: ObjectRef): Promise<Uint8Array> {
    let bytes;
    try {
      bytes = await this.images.getBlob(ref.name);
    } catch (error) {
      throw natsFailure(error, `reading source image ${ref.name}`);
    }
    if (bytes === null)
      throw new SdbotError('IMAGE_INVALID', `source image ${ref.name} is not in the object store`);
    return bytes;
  }

  /** What this worker announces and checks jobs against; upscaling only with an upscaler loaded. */
  private capabilities(): string[] {
    const upscales = this.options.generator.upscale !== undefined;
    return [...WORKER_CAPABILITIES, ...(upscales ? ['upscale'] : [])];
  }

  private previewStore: Promise<ObjectStore> | undefined;

  /** Stores a progress preview in its own short-lived store (never in the image store). */
  async storePreview(jobId: string, step: number, png: Uint8Array): Promise<ObjectRef> {
    this.previewStore ??= openPreviewStore(this.js).catch((error: unknown) => {
      // Not provisioned yet (bots not upgraded): try again with a later preview.
      this.previewStore = undefined;
      throw error;
    });
    return putPreview(await this.previewStore, jobId, step, png);
  }

  /** Stores a PNG in the object store (chunked: images never have to fit in one message). */
  async storeImage(name: string, png: Uint8Array): Promise<ObjectRef> {
    try {
      const info = await this.images.putBlob({ name }, png);
      return { store: OBJECT_STORES.images, name, size: info.size, contentType: 'image/png' };
    } catch (error) {
      throw natsFailure(error, `storing image ${name}`);
    }
  }

  publishProgress(progress: Progress): void {
    this.options.connection.publish(
      SUBJECTS.progress(progress.jobId),
      encodeMessage(progressSchema, progress),
    );
  }

  /** Records progress in KV unless the job ended; a cancellation found there aborts the job. */
  async recordProgress(
    state: JobStateTracker,
    step: number,
    total: number,
    controller: AbortController,
  ): Promise<void> {
    const change = await state.transition({ state: 'progress', workerId: this.workerId, step, total });
    const status = change.record?.status;
    if (!change.changed && status?.state === 'cancelled') {
      controller.abort(new SdbotError('CANCELLED', `cancelled by ${status.cancelledBy}`));
    }
  }

  recordStep(model: string, seconds: number): void {
    this.throughput.recordStep();
    this.options.metrics?.stepTime.observe({ model }, seconds);
  }

  private async complete(
    message: JsMsg,
    job: Job,
    output: GenerationOutput,
    startedAt: number,
    tracker: JobStateTracker,
    log: Logger,
  ): Promise<void> {
    const { workerId, metrics } = this.options;
    const uploadStart = performance.now();
    const images: ResultImage[] = await Promise.all(
      output.images.map(async (image, index) => ({
        image: await this.storeImage(imageObjectName(job.id, index), image.png),
        seed: image.seed,
        nsfw: image.nsfw,
        watermarked: image.watermarked,
        width: image.width,
        height: image.height,
      })),
    );
    const completedAt = Date.now();
    const state = await tracker.transition(
      { state: 'completed', workerId, images, completedAt },
      {
        now: completedAt,
        allow: (current) => current.status.state === 'completed' || !isTerminalStatus(current.status),
      },
    );
    // Cancelled while the last step ran: the cancellation was first, so it stands.
    if (
      !state.changed &&
      state.record !== undefined &&
      (await this.settleEnded(message, job, state.record, log))
    ) {
      return;
    }
    await this.outcomes.publish({
      v: 1,
      type: 'result',
      jobId: job.id,
      workerId,
      model: job.model,
      images,
      truncatedTokens: output.truncatedTokens,
      ...(output.negativeTruncatedTokens === undefined
        ? {}
        : { negativeTruncatedTokens: output.negativeTruncatedTokens }),
      ...(output.promptChunkLimit === undefined ? {} : { promptChunkLimit: output.promptChunkLimit }),
      timings: {
        queuedMs: Math.max(0, startedAt - job.createdAt),
        totalMs: completedAt - startedAt,
        stages: { ...output.stages, upload: performance.now() - uploadStart },
      },
      completedAt,
    });
    // Not ackAck: if this acknowledgement is lost, the redelivered copy finds the stored outcome.
    message.ack();
    this.throughput.recordJob(images.length, completedAt);
    metrics?.images.inc({ model: job.model }, images.length);
    metrics?.jobTime.observe({ model: job.model }, (completedAt - startedAt) / 1000);
    this.count(job.model, 'completed');
    log.info({ ms: completedAt - startedAt, images: images.length }, LOG_EVENTS.job.completed);
  }

  private retryDelay(deliveries: number): number {
    return Math.min(
      this.options.config.jetstream.retryDelayMs * 2 ** Math.max(0, deliveries - 1),
      MAX_RETRY_DELAY_MS,
    );
  }

  private async fail(
    message: JsMsg,
    job: Job,
    error: unknown,
    state: JobStateTracker,
    log: Logger,
  ): Promise<void> {
    const { workerId, config } = this.options;
    const failure = toSdbotError(error);
    const deliveries = message.info.deliveryCount;
    const now = Date.now();
    if (failure.code === 'CANCELLED') {
      const change = await state.transition({
        state: 'cancelled',
        cancelledBy: failure.message.replace(/^cancelled by /, '').slice(0, 64) || 'unknown',
        cancelledAt: now,
      });
      const status = change.record?.status;
      const message_ = status?.state === 'cancelled' ? `cancelled by ${status.cancelledBy}` : failure.message;
      await this.outcomes.publish(failureOutcome(job.id, 'CANCELLED', message_, false, workerId));
      message.ack();
      this.count(job.model, 'cancelled');
      log.info(LOG_EVENTS.job.cancelled);
      return;
    }
    if (failure.code === 'WORKER_SHUTDOWN') {
      await state.transition({ state: 'queued' }, { now });
      message.nak();
      this.count(job.model, 'released');
      log.info({ reason: 'worker shutting down' }, LOG_EVENTS.job.released);
      return;
    }
    if (failure.retryable && deliveries < config.jetstream.maxDeliver) {
      const delay = this.retryDelay(deliveries);
      await state.transition({ state: 'queued' }, { now });
      message.nak(delay);
      this.count(job.model, 'retried');
      log.warn({ err: failure, retryInMs: delay }, LOG_EVENTS.job.retrying);
      return;
    }
    const code = failure.retryable ? 'MAX_DELIVERIES_EXCEEDED' : failure.code;
    const reason = failure.retryable
      ? `failed on all ${deliveries} deliveries; last error [${failure.code}]: ${failure.message}`
      : failure.message;
    await this.deadLetter(message, job.model, job.id, code, reason);
    await state.transition({ state: 'failed', code, message: reason.slice(0, 2000), failedAt: now }, { now });
    await this.outcomes.publish(failureOutcome(job.id, code, reason, false, workerId));
    // No reason argument: nats-server 2.9 does not recognise `+TERM <reason>` and leaves the job pending.
    message.term();
    this.count(job.model, 'failed');
    log.warn({ err: failure }, LOG_EVENTS.job.failed);
  }

  /** An unreadable or invalid job: dead-letter it, tell its requester if we know who, drop it. */
  private async reject(
    message: JsMsg,
    model: string,
    failure: SdbotError,
    jobId: string | null,
  ): Promise<void> {
    const { logger, workerId } = this.options;
    try {
      await this.deadLetter(message, model, jobId, failure.code, failure.message);
      if (jobId !== null) {
        const now = Date.now();
        await this.jobStates.update(jobId, (current) =>
          current === null || isTerminalStatus(current.status)
            ? undefined
            : {
                ...current,
                status: {
                  state: 'failed',
                  code: failure.code,
                  message: failure.message.slice(0, 2000),
                  failedAt: now,
                },
                updatedAt: now,
              },
        );
        await this.outcomes.publish(failureOutcome(jobId, failure.code, failure.message, false, workerId));
      }
      message.term();
      this.count(model, 'dead_lettered');
      logger.warn({ jobId, model, code: failure.code, reason: failure.message }, LOG_EVENTS.job.rejected);
    } catch (error) {
      logger.error({ err: error, jobId, next: 'redelivery' }, LOG_EVENTS.job.rejectFailed);
      message.nak(this.retryDelay(message.info.deliveryCount));
    }
  }

  private async deadLetter(
    message: JsMsg,
    model: string,
    jobId: string | null,
    code: SdbotError['code'],
    reason: string,
  ): Promise<void> {
    await publishDeadLetter(this.js, {
      subject: message.subject,
      model,
      data: message.data,
      jobId,
      code,
      reason,
      deliveries: message.info.deliveryCount,
      streamSeq: message.seq,
      workerId: this.options.workerId,
    });
    this.options.metrics?.deadLetters.inc({ code });
  }

  /**
   * Stops pulling, lets running jobs finish for SDBOT_SHUTDOWN_GRACE, hands the rest back to the
   * queue, and leaves the registry. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    const { logger, config, workerId } = this.options;
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    for (const pull of this.pulls) pull.stop();
    const grace = setTimeout(() => {
      for (const { controller } of this.running.values()) {
        controller.abort(new SdbotError('WORKER_SHUTDOWN', `worker ${workerId} is shutting down`));
      }
    }, config.worker.shutdownGraceMs);
    await Promise.all(this.loops);
    clearTimeout(grace);
    this.cancelSubscription?.unsubscribe();
    await this.maxDeliveries.stop();
    await this.registry.remove(workerId).catch((error: unknown) => {
      logger.warn({ err: error, reason: 'could not leave the registry' }, LOG_EVENTS.worker.deregisterFailed);
    });
    logger.info({ workerId }, LOG_EVENTS.worker.stopped);
  }
}

/**
 * Reports the steps of one job: core NATS progress on every step, job state in KV at most once a
 * second, and a preview image every SDBOT_PREVIEW_EVERY steps (never more than one in flight).
 */
class ProgressReporter {
  private lastStepAt = performance.now();
  private lastStateWrite = 0;
  private stateWrite: Promise<void> | undefined;
  private preview: Promise<void> | undefined;

  constructor(
    private readonly service: WorkerService,
    private readonly job: Job,
    private readonly state: JobStateTracker,
    private readonly controller: AbortController,
    private readonly log: Logger,
  ) {}

  step(step: number, total: number, latents: Float32Array | undefined): void {
    const now = performance.now();
    this.service.recordStep(this.job.model, (now - this.lastStepAt) / 1000);
    this.lastStepAt = now;
    const progress: Progress = {
      v: 1,
      jobId: this.job.id,
      workerId: this.service.workerId,
      step,
      total,
      at: Date.now(),
    };
    this.service.publishProgress(progress);
    if (
      this.stateWrite === undefined &&
      (now - this.lastStateWrite >= STATE_WRITE_INTERVAL_MS || step === total)
    ) {
      this.lastStateWrite = now;
      this.stateWrite = this.service
        .recordProgress(this.state, step, total, this.controller)
        .catch((error: unknown) => {
          this.log.warn({ err: error }, LOG_EVENTS.progress.recordFailed);
        })
        .finally(() => {
          this.stateWrite = undefined;
        });
    }
    const every = this.service.previewEvery;
    if (
      latents !== undefined &&
      this.job.kind !== 'upscale' &&
      every > 0 &&
      step % every === 0 &&
      step < total &&
      this.preview === undefined
    ) {
      const { width, height } = this.job;
      const snapshot = latents.slice(0, 4 * (width / 8) * (height / 8));
      this.preview = this.sendPreview(progress, snapshot, width, height).finally(() => {
        this.preview = undefined;
      });
    }
  }

  private async sendPreview(
    progress: Progress,
    latents: Float32Array,
    width: number,
    height: number,
  ): Promise<void> {
    try {
      const png = await previewPng(latents, width, height);
      const preview = await this.service.storePreview(this.job.id, progress.step, png);
      this.service.publishProgress({ ...progress, preview, at: Date.now() });
    } catch (error) {
      this.log.warn({ err: error }, LOG_EVENTS.preview.failed);
    }
  }

  /** Waits for writes still in flight, so none lands after the job's final state. */
  async settled(): Promise<void> {
    await this.stateWrite;
    await this.preview;
  }
}

/**
 * The state of one running job as this worker last wrote it: each compare-and-set uses the
 * revision it got from the previous write instead of reading the record again, and falls back to a
 * read only when someone else (a cancellation) wrote in between.
 */
class JobStateTracker {
  constructor(
    private readonly store: JobStateStore,
    private readonly job: Job,
    private entry: JobStateEntry | null,
  ) {}

  async transition(
    status: JobStatus,
    options: Omit<TransitionOptions, 'known'> = {},
  ): Promise<JobStateChange> {
    const change = await this.store.transition(this.job, status, { ...options, known: this.entry });
    this.entry = change.entry;
    return change;
  }
}
