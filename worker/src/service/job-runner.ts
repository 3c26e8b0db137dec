/**
 * Runs one delivered job: checks it against its stored outcome and state (delivery is at least
 * once), reads its source, generates, uploads the images and publishes the outcome. Every way it
 * can fail goes to the failure policy.
 */
import type { JsMsg } from '@nats-io/jetstream';
import {
  CancelledError,
  SdbotError,
  createJobSchema,
  decodeMessage,
  imageObjectName,
  isGenerationJob,
  isTerminalStatus,
  missingCapabilities,
  toSdbotError,
  type Config,
  type Job,
  type JobOutcome,
  type JobStateRecord,
  type JobStatus,
  type JobStateStore,
  type Logger,
  type ResultImage,
} from '@sdbot/shared';
import { checkImagePixels } from '../image-io.js';
import { jobIdOf } from './dead-letters.js';
import { untilAborted, withDeadline, type JobDeadline } from './deadline.js';
import type { FailurePolicy, SettleDeadline } from './failure-policy.js';
import {
  capabilitiesOf,
  upscaleWith,
  type GenerationHooks,
  type GenerationOutput,
  type ImageGenerator,
} from './generator.js';
import type { JobEvents } from './job-events.js';
import type { JobImages } from './job-images.js';
import { JobStateTracker, queuedStateOf } from './job-state-tracker.js';
import type { WorkerMetrics } from './metrics.js';
import { failureOutcome, type OutcomePublisher } from './outcomes.js';
import { ProgressReporter, type ProgressReporterDeps } from './progress-reporter.js';
import { nextJobPace, slotSignals, type SlotJob } from './pull-loop.js';
import type { ThroughputTracker } from './throughput.js';

export interface JobRunnerDeps {
  generator: ImageGenerator;
  config: Config;
  workerId: string;
  jobStates: JobStateStore;
  images: JobImages;
  outcomes: OutcomePublisher;
  policy: FailurePolicy;
  throughput: ThroughputTracker;
  progress: ProgressReporterDeps;
  logger: Logger;
  metrics?: WorkerMetrics | undefined;
  events: JobEvents;
  /** Bounds the writes that record an outcome; its operation limit bounds every NATS call. */
  settle: SettleDeadline;
}

/** What a job tells its slot (see SlotJob). */
type SlotSignals = Pick<RunningJob, 'freeSlot' | 'endingSoon'>;

interface RunningJob {
  job: Job;
  controller: AbortController;
  /** Its images are made: storing them and the outcome run beside the slot's next job. */
  finishing: boolean;
  freeSlot: () => void;
  /** Its slot may ask for the next job (see nextJobPace). */
  endingSoon: () => void;
}

export class JobRunner {
  private readonly running = new Map<string, RunningJob>();
  private readonly jobSchema;

  constructor(private readonly deps: JobRunnerDeps) {
    this.jobSchema = createJobSchema({ maxPixels: deps.config.limits.maxPixels });
  }

  /** Slots whose job is still making its images (a job that is finishing frees its slot). */
  get busySlots(): number {
    let busy = 0;
    for (const running of this.running.values()) if (!running.finishing) busy += 1;
    return busy;
  }

  /** Aborts a running job (no-op when this worker is not running it). */
  cancel(jobId: string, requestedBy: string): void {
    this.running.get(jobId)?.controller.abort(new CancelledError(requestedBy));
  }

  /** Aborts every running job with `reason` (a shutdown past its grace). */
  abortAll(reason: SdbotError): void {
    for (const { controller } of this.running.values()) controller.abort(reason);
  }

  /** Runs a delivered job (see SlotJob); every failure is handled inside. */
  start(message: JsMsg, model: string): SlotJob {
    const signals = slotSignals();
    const done = this.process(message, model, signals).finally(signals.freeSlot);
    return { ...signals.promises, done };
  }

  private async process(message: JsMsg, model: string, slot: SlotSignals): Promise<void> {
    const { logger, metrics, policy } = this.deps;
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
      const missing = missingCapabilities(decoded, new Set(capabilitiesOf(this.deps.generator)));
      if (missing.length > 0) {
        throw new SdbotError(
          'UNSUPPORTED_CAPABILITY',
          `this worker cannot run the job: it lacks ${missing.join(', ')}`,
        );
      }
      if (!isGenerationJob(decoded) && this.deps.generator.upscale === undefined) {
        throw new SdbotError('INVALID_INPUT', `this worker cannot run ${decoded.kind} jobs`);
      }
      job = decoded;
    } catch (error) {
      await policy.rejected(
        message,
        model,
        toSdbotError(error),
        jobIdOf(message.data, message.headers?.get('Nats-Msg-Id')),
      );
      return;
    }
    const log = logger.child({ jobId: job.id, model, deliveries });
    try {
      await this.run(message, job, log, slot);
    } catch (error) {
      policy.interrupted(message, model, log, error);
    }
  }

  private async run(message: JsMsg, job: Job, log: Logger, slot: SlotSignals): Promise<void> {
    const { metrics } = this.deps;
    const controller = new AbortController();
    this.running.set(job.id, {
      job,
      controller,
      finishing: false,
      freeSlot: slot.freeSlot,
      endingSoon: slot.endingSoon,
    });
    metrics?.busySlots.set(this.busySlots);
    const jobTimeoutMs = this.deps.config.worker.jobTimeoutMs;
    const timeLimit = setTimeout(() => {
      controller.abort(
        new SdbotError('TIMEOUT', `job ran longer than SDBOT_JOB_TIMEOUT (${jobTimeoutMs / 1000} s)`, {
          retryable: false,
        }),
      );
    }, jobTimeoutMs);
    try {
      await this.runBounded(message, job, log, controller);
    } finally {
      clearTimeout(timeLimit);
      this.running.delete(job.id);
      metrics?.busySlots.set(this.busySlots);
    }
  }

  private async runBounded(
    message: JsMsg,
    job: Job,
    log: Logger,
    controller: AbortController,
  ): Promise<void> {
    const { workerId, generator, config, jobStates, outcomes, policy } = this.deps;
    const deadline: JobDeadline = { signal: controller.signal, operationMs: this.deps.settle.operationMs };
    const before =
      queuedStateOf(message, job) ??
      (await withDeadline(`reading the state of job ${job.id}`, deadline, () => jobStates.get(job.id)));
    // An outcome is published only after the state left `queued`, so a first delivery of a queued
    // job has none; anything else (a redelivery, a state that moved on or expired) looks it up.
    const mayHaveOutcome = message.info.deliveryCount > 1 || before?.record.status.state !== 'queued';
    const state = new JobStateTracker(jobStates, job, before, deadline);
    const finished = mayHaveOutcome
      ? await withDeadline(`looking up the outcome of job ${job.id}`, deadline, () => outcomes.find(job.id))
      : null;
    if (finished !== null) {
      await policy.duplicate({ message, job, state, log }, finished);
      return;
    }
    if (before !== null && (await this.settleEnded(message, job, before.record, log))) return;
    const startedAt = Date.now();
    // Runs while `started` is written (a round trip less before its first step): a job found ended
    // stops within a step; a completed state without an outcome (lost in a crash) runs again.
    const started = { state: 'started', workerId, startedAt } as const;
    const starting = this.advanceOrSettle(message, job, state, started, startedAt, log).then(
      (ended) => {
        if (ended) controller.abort(new SdbotError('CANCELLED', 'the job had already ended'));
        else this.started(message, job, startedAt, log);
        return ended;
      },
      (error: unknown) => {
        controller.abort(error);
        throw error;
      },
    );
    starting.catch(() => undefined);

    // working() only when the job advances (a step, a chunk read, an image stored): a job that
    // stalls goes silent and JetStream redelivers it after the ack wait.
    const ackWaitMs = config.jetstream.ackWaitMs;
    let lastWorking = Date.now();
    const progressed = (): void => {
      if (Date.now() - lastWorking > ackWaitMs / 10) {
        message.working();
        lastWorking = Date.now();
      }
    };
    const reporter = new ProgressReporter(this.deps.progress, job, state, controller, log, deadline);
    const pace = nextJobPace(() => this.running.get(job.id)?.endingSoon());
    try {
      const sourceImage = await this.readSource(job, deadline, progressed);
      progressed();
      // Raced against the signal: a generator that does not stop still frees the slot.
      const hooks: GenerationHooks = {
        signal: controller.signal,
        onStep: (step, total, latents) => {
          progressed();
          pace(step, total);
          reporter.step(step, total, latents);
        },
      };
      // The one place a job's kind picks what runs it.
      const output = await untilAborted(
        isGenerationJob(job)
          ? generator.generate(sourceImage === undefined ? { job } : { job, sourceImage }, hooks)
          : upscaleWith(generator, job, sourceImage, hooks),
        controller.signal,
      );
      controller.signal.throwIfAborted();
      if (await starting) return;
      if (output.truncatedTokens > 0 || (output.negativeTruncatedTokens ?? 0) > 0) {
        log.info(
          {
            syntax: (isGenerationJob(job) ? job.syntax : undefined) ?? 'plain',
            // Counts of tokens cut from each prompt (key names avoid the logger's secret filter).
            cut: { prompt: output.truncatedTokens, negative: output.negativeTruncatedTokens ?? 0 },
            chunkLimit: output.promptChunkLimit,
          },
          'prompt:truncated',
        );
      }
      this.finishing(job.id);
      await this.complete(message, job, output, startedAt, state, log, deadline, progressed, reporter);
    } catch (error) {
      await reporter.settled();
      // Ended before it started, or `started` could not be written (the caller hands it back).
      if (await starting) return;
      await policy.failed(
        { message, job, state, log },
        controller.signal.aborted ? controller.signal.reason : error,
      );
    } finally {
      await reporter.settled();
    }
  }

  /** The job's `started` state is written: it counts as started. */
  private started(message: JsMsg, job: Job, startedAt: number, log: Logger): void {
    this.deps.metrics?.queueWait.observe({ model: job.model }, Math.max(0, startedAt - job.createdAt) / 1000);
    log.info('job:started');
    this.deps.events.emit('job:started', {
      jobId: job.id,
      model: job.model,
      deliveries: message.info.deliveryCount,
    });
  }

  /** The job's images are made: its slot takes the next job while this one is stored. */
  private finishing(jobId: string): void {
    const running = this.running.get(jobId);
    if (running === undefined) return;
    running.finishing = true;
    this.deps.metrics?.busySlots.set(this.busySlots);
    running.freeSlot();
  }

  /** The job's source image, refused before decoding when it claims too many pixels. */
  private async readSource(
    job: Job,
    deadline: JobDeadline,
    progressed: () => void,
  ): Promise<Uint8Array | undefined> {
    if (job.source === undefined) return undefined;
    const bytes = await this.deps.images.readSource(job.source.image, deadline, progressed);
    await checkImagePixels(bytes, {
      label: `source image ${job.source.image.name}`,
      maxPixels: this.deps.config.limits.maxInputPixels,
    });
    return bytes;
  }

  private publishOutcome(outcome: JobOutcome): Promise<void> {
    return withDeadline(`publishing the outcome of job ${outcome.jobId}`, this.deps.settle, () =>
      this.deps.outcomes.publish(outcome),
    );
  }

  /**
   * Moves the job's state to `status` (a completed state without an outcome may be left: it was
   * lost in a crash and the job runs again). When the state had already ended (cancelled or
   * failed), settles the job as ended and returns true.
   */
  private async advanceOrSettle(
    message: JsMsg,
    job: Job,
    tracker: JobStateTracker,
    status: JobStatus,
    now: number,
    log: Logger,
  ): Promise<boolean> {
    const change = await tracker.transition(status, {
      now,
      allow: (current) => current.status.state === 'completed' || !isTerminalStatus(current.status),
    });
    return (
      !change.changed && change.record !== undefined && this.settleEnded(message, job, change.record, log)
    );
  }

  /**
   * Handles a job whose state says it already ended (cancelled while queued, or failed before):
   * makes sure its outcome exists, acknowledges it, and returns true. Returns false otherwise.
   */
  private async settleEnded(message: JsMsg, job: Job, record: JobStateRecord, log: Logger): Promise<boolean> {
    const { outcomes, policy } = this.deps;
    const status = record.status;
    if (status.state === 'cancelled') {
      await outcomes.publish(
        failureOutcome(job.id, 'CANCELLED', `cancelled by ${status.cancelledBy}`, false),
      );
    } else if (status.state === 'failed') {
      await outcomes.publish(failureOutcome(job.id, status.code, status.message, false));
    } else {
      return false;
    }
    log.info({ state: status.state, reason: 'the job already ended' }, 'job:skipped');
    message.ack();
    policy.ended(
      status.state === 'cancelled'
        ? { jobId: job.id, model: job.model, outcome: 'cancelled', code: 'CANCELLED' }
        : { jobId: job.id, model: job.model, outcome: 'failed', code: status.code },
    );
    return true;
  }

  private async complete(
    message: JsMsg,
    job: Job,
    output: GenerationOutput,
    startedAt: number,
    tracker: JobStateTracker,
    log: Logger,
    deadline: JobDeadline,
    progressed: () => void,
    reporter: ProgressReporter,
  ): Promise<void> {
    const { workerId, metrics, policy, throughput, images: store } = this.deps;
    const uploadStart = performance.now();
    const names = output.images.map((_, index) => imageObjectName(job.id, index));
    const images: ResultImage[] = output.images.map((image, index) => ({
      image: store.refFor(names[index] ?? '', image.png),
      seed: image.seed,
      nsfw: image.nsfw,
      watermarked: image.watermarked,
      width: image.width,
      height: image.height,
    }));
    const uploads = Promise.all(
      output.images.map((image, index) =>
        store.store(names[index] ?? '', image.png, deadline).finally(progressed),
      ),
    );
    // Settles with the upload's failure, if any (the final state may fail first).
    const stored = uploads.then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    // The final state is written while the images upload (after the last progress write, which
    // needs no re-read); the outcome only once they can be read.
    await reporter.settled();
    const completedAt = Date.now();
    // Cancelled while the last step ran: the cancellation was first, so it stands.
    const completed: JobStatus = { state: 'completed', workerId, images, completedAt };
    const [ended, failedUpload] = await Promise.all([
      this.advanceOrSettle(message, job, tracker, completed, completedAt, log),
      stored,
    ]);
    if (ended) return;
    if (failedUpload !== undefined) {
      // The state must not claim images that are not stored: back to started (unless someone
      // wrote since), and the job fails as any other would.
      await tracker
        .transition(
          { state: 'started', workerId, startedAt },
          {
            allow: (current) => current.status.state === 'completed' && current.status.workerId === workerId,
          },
        )
        .catch((error: unknown) => {
          log.warn({ err: error, reason: 'images not stored' }, 'job:state-write-failed');
        });
      throw failedUpload.error;
    }
    await this.publishOutcome({
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
    throughput.recordJob(images.length, completedAt);
    metrics?.images.inc({ model: job.model }, images.length);
    metrics?.jobTime.observe({ model: job.model }, (completedAt - startedAt) / 1000);
    policy.ended({ jobId: job.id, model: job.model, outcome: 'completed' });
    log.info({ ms: completedAt - startedAt, images: images.length }, 'job:completed');
  }
}
