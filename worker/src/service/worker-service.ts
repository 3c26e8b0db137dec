/**
 * The worker service: pulls jobs for the models it has loaded, one per free slot, runs them through
 * an ImageGenerator and reports progress, state and outcome over NATS. This file wires the parts
 * together and owns the worker's own lifecycle (heartbeats, cancel requests, shutdown):
 * - PullLoops (pull-loop.ts): one loop per slot over the model consumers;
 * - JobRunner (job-runner.ts): one job from delivery to outcome;
 * - FailurePolicy (failure-policy.ts): every failing path (retry, release, give up);
 * - ProgressReporter (progress-reporter.ts): steps, KV progress and previews of one job;
 * - MaxDeliveriesHandler (max-deliveries.ts): jobs whose workers kept dying.
 */
import { hostname } from 'node:os';
import { jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  JOB_FLOW_RESOURCES,
  JobStateStore,
  OBJECT_STORES,
  STREAMS,
  SUBJECTS,
  SdbotError,
  WorkerRegistry,
  cancelRequestSchema,
  decodeMessage,
  jobConsumerName,
  natsFailure,
  provisionJetStream,
  type Config,
  type Logger,
  type WorkerHeartbeat,
} from '@sdbot/shared';
import { operationDeadlineMs, untilAborted, withDeadline } from './deadline.js';
import { FailurePolicy } from './failure-policy.js';
import { capabilitiesOf, type ImageGenerator } from './generator.js';
import { JobEvents } from './job-events.js';
import { JobImages } from './job-images.js';
import { JobRunner } from './job-runner.js';
import { MaxDeliveriesHandler } from './max-deliveries.js';
import type { WorkerMetrics } from './metrics.js';
import { OutcomePublisher } from './outcomes.js';
import { PullLoops } from './pull-loop.js';
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

interface WorkerParts {
  registry: WorkerRegistry;
  runner: JobRunner;
  policy: FailurePolicy;
  consumers: ReadonlyMap<string, Consumer>;
  maxDeliveries: MaxDeliveriesHandler;
  stopNow: AbortController;
  events: JobEvents;
}

/** Part of the shutdown grace kept for handing running jobs back (at most half the grace). */
const HAND_BACK_RESERVE_MS = 1000;
/** How long a stopping worker tries to remove itself from the registry. */
const DEREGISTER_TIMEOUT_MS = 2000;

export class WorkerService {
  private readonly startedAt = Date.now();
  private loops: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private cancelSubscription: Subscription | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly pulls: PullLoops;

  private constructor(
    private readonly options: WorkerServiceOptions,
    private readonly parts: WorkerParts,
    private readonly throughput: ThroughputTracker,
  ) {
    const { runner, policy } = parts;
    this.pulls = new PullLoops({
      consumers: parts.consumers,
      isStopping: () => this.stopping,
      start: (message, model) => runner.start(message, model),
      released: (message: JsMsg, model) => {
        // Arrived as we stopped: hand it straight to another worker.
        message.nak();
        policy.ended({ jobId: null, model, outcome: 'released', code: 'WORKER_SHUTDOWN' });
      },
      logger: options.logger,
    });
  }

  /** Provisions what the worker needs, starts heartbeats and one pull loop per slot. */
  static async start(options: WorkerServiceOptions): Promise<WorkerService> {
    const { connection, config, generator, logger, workerId, metrics } = options;
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
    const store = await new Objm(js).open(OBJECT_STORES.images).catch((error: unknown) => {
      throw natsFailure(error, `opening object store ${OBJECT_STORES.images}`);
    });
    const images = new JobImages(connection, store, js, jsm, {
      maxSourceBytes: config.limits.maxSourceBytes,
    });
    // Fires when a shutdown can wait no longer: the writes that record outcomes give up too.
    const stopNow = new AbortController();
    const settle = { signal: stopNow.signal, operationMs: operationDeadlineMs(config.jetstream.ackWaitMs) };
    const jobStates = await JobStateStore.open(js);
    const outcomes = new OutcomePublisher(js, jsm);
    const events = new JobEvents();
    events.on('job:ended', ({ model, outcome }) => {
      metrics?.jobs.inc({ model, outcome });
    });
    const policy = new FailurePolicy({
      js,
      jobStates,
      outcomes,
      config,
      workerId,
      logger,
      metrics,
      events,
      settle,
    });
    const throughput = new ThroughputTracker();
    const runner = new JobRunner({
      generator,
      config,
      workerId,
      jobStates,
      images,
      outcomes,
      policy,
      throughput,
      progress: {
        connection,
        images,
        workerId,
        previewEvery: config.worker.previewEvery,
        onStepTimed: (model, seconds) => {
          throughput.recordStep();
          metrics?.stepTime.observe({ model }, seconds);
        },
      },
      logger,
      metrics,
      events,
      settle,
    });
    const parts: WorkerParts = {
      registry: await WorkerRegistry.open(js),
      consumers,
      runner,
      policy,
      maxDeliveries: new MaxDeliveriesHandler({ connection, jsm, policy, logger }),
      stopNow,
      events,
    };
    const service = new WorkerService(options, parts, throughput);
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
    this.loops = this.pulls.run(config.worker.slots);
    logger.info(
      { workerId, models: generator.models.map((model) => model.id), slots: config.worker.slots },
      'worker:started',
    );
  }

  /** Typed job events: `job:started`, `job:ended` (how each delivery ended). */
  get events(): JobEvents {
    return this.parts.events;
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** Models loaded, pulling, and NATS connected. */
  isReady(): boolean {
    return !this.stopping && !this.options.connection.isClosed();
  }

  get freeSlots(): number {
    return Math.max(0, this.options.config.worker.slots - this.parts.runner.busySlots);
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
      capabilities: capabilitiesOf(generator),
    };
  }

  private async beat(): Promise<void> {
    try {
      await this.parts.registry.put(this.heartbeat());
      this.options.metrics?.imagesPerSecond.set(this.throughput.snapshot().imagesPerSecond);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'heartbeat:failed');
    }
  }

  private onCancelRequest(data: Uint8Array): void {
    try {
      const request = decodeMessage(cancelRequestSchema, data);
      this.parts.runner.cancel(request.jobId, request.requestedBy);
    } catch (error) {
      this.options.logger.warn({ err: error, reason: 'invalid cancel request' }, 'cancel:ignored');
    }
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
    this.pulls.interrupt();
    // Running jobs may finish until shortly before the grace ends; then they are handed back, and
    // at the end of the grace every write still waiting gives up (NATS may be gone), so the
    // worker always stops within SDBOT_SHUTDOWN_GRACE.
    const graceMs = config.worker.shutdownGraceMs;
    const handBack = setTimeout(
      () => {
        this.parts.runner.abortAll(new SdbotError('WORKER_SHUTDOWN', `worker ${workerId} is shutting down`));
      },
      graceMs - Math.min(HAND_BACK_RESERVE_MS, graceMs / 2),
    );
    const giveUp = setTimeout(() => {
      this.parts.stopNow.abort(
        new SdbotError('WORKER_SHUTDOWN', `worker ${workerId} stopped waiting for NATS`),
      );
    }, graceMs);
    const stopNow = this.parts.stopNow.signal;
    try {
      await untilAborted(this.loops, stopNow).catch((error: unknown) => {
        logger.warn({ err: error, reason: 'a job or a pull did not end in time' }, 'worker:stop-forced');
      });
      this.cancelSubscription?.unsubscribe();
      await untilAborted(this.parts.maxDeliveries.stop(), stopNow).catch(() => undefined);
      // Not worth a long wait: the entry expires by itself three heartbeats later.
      const leaving = { signal: stopNow, operationMs: DEREGISTER_TIMEOUT_MS };
      await withDeadline('leaving the registry', leaving, () => this.parts.registry.remove(workerId)).catch(
        (error: unknown) => {
          logger.warn({ err: error, reason: 'could not leave the registry' }, 'worker:deregister-failed');
        },
      );
    } finally {
      clearTimeout(handBack);
      clearTimeout(giveUp);
    }
    logger.info({ workerId }, 'worker:stopped');
  }
}
