/**
 * Reports the steps of one job: core NATS progress on the first and last step and at most four times
 * a second between, job state in KV at most once a second, and a preview image every
 * SDBOT_PREVIEW_EVERY steps (never more than one in flight).
 * A cancellation found in KV while recording progress aborts the job.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CancelledError,
  SUBJECTS,
  encodeMessage,
  progressSchema,
  type Job,
  type Logger,
  type Progress,
} from '@sdbot/shared';
import type { JobDeadline } from './deadline.js';
import type { JobImages } from './job-images.js';
import type { JobStateTracker } from './job-state-tracker.js';
import { previewPng } from './preview.js';

/**
 * Progress is published at most this often between the first and the last step: viewers redraw no
 * faster (the bot edits its reply every 2 s, a terminal bar a few times a second), and a fast GPU's
 * 20 steps a second from each of hundreds of workers would otherwise be most of the pool's messages.
 */
export const PROGRESS_INTERVAL_MS = 250;

/** Job state in KV is updated at most this often while steps advance. */
const STATE_WRITE_INTERVAL_MS = 1000;

/**
 * The last step's state is written only if the job still runs this long after it (decoding the
 * images): a job that ends sooner writes its final state instead, one KV write fewer, and nobody
 * looking at /queue can tell the difference.
 */
export const LAST_STEP_STATE_DELAY_MS = 250;

/** What every reporter of one worker shares. */
export interface ProgressReporterDeps {
  connection: NatsConnection;
  images: JobImages;
  workerId: string;
  /** SDBOT_PREVIEW_EVERY: a preview every this many steps (0: never). */
  previewEvery: number;
  /** Told the duration of every step (throughput and the step-time histogram). */
  onStepTimed: (model: string, seconds: number) => void;
}

export class ProgressReporter {
  private lastStepAt = performance.now();
  /** -Infinity: the first step is written at once, even in a process started under a second ago. */
  private lastStateWrite = Number.NEGATIVE_INFINITY;
  private lastPublish = Number.NEGATIVE_INFINITY;
  private stateWrite: Promise<void> | undefined;
  private lastStepWrite: NodeJS.Timeout | undefined;
  private preview: Promise<void> | undefined;

  constructor(
    private readonly deps: ProgressReporterDeps,
    private readonly job: Job,
    private readonly state: JobStateTracker,
    private readonly controller: AbortController,
    private readonly log: Logger,
    /** The job's deadline, which bounds the preview upload. */
    private readonly deadline: JobDeadline,
  ) {}

  step(step: number, total: number, latents: Float32Array | undefined): void {
    const now = performance.now();
    this.deps.onStepTimed(this.job.model, (now - this.lastStepAt) / 1000);
    this.lastStepAt = now;
    const progress: Progress = {
      v: 1,
      jobId: this.job.id,
      workerId: this.deps.workerId,
      step,
      total,
      at: Date.now(),
    };
    if (step === total || now - this.lastPublish >= PROGRESS_INTERVAL_MS) {
      this.lastPublish = now;
      this.publish(progress);
    }
    // The first step at once (/queue shows the step), then at most once a second; the last one
    // only if the job goes on after it (see LAST_STEP_STATE_DELAY_MS).
    if (step === total) {
      clearTimeout(this.lastStepWrite);
      this.lastStepWrite = setTimeout(() => {
        this.lastStepWrite = undefined;
        this.writeState(step, total);
      }, LAST_STEP_STATE_DELAY_MS);
    } else if (this.stateWrite === undefined && now - this.lastStateWrite >= STATE_WRITE_INTERVAL_MS) {
      this.writeState(step, total);
    }
    const every = this.deps.previewEvery;
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

  /**
   * Drops a last-step write not sent yet and waits for writes in flight, so none lands after the
   * job's final state.
   */
  async settled(): Promise<void> {
    clearTimeout(this.lastStepWrite);
    this.lastStepWrite = undefined;
    await this.stateWrite;
    await this.preview;
  }

  /** Records the step after any write still in flight (writes to one key go one at a time). */
  private writeState(step: number, total: number): void {
    this.lastStateWrite = performance.now();
    const write: Promise<void> = (this.stateWrite ?? Promise.resolve())
      .then(() => this.recordProgress(step, total))
      .catch((error: unknown) => {
        this.log.warn({ err: error }, 'progress:record-failed');
      })
      .finally(() => {
        if (this.stateWrite === write) this.stateWrite = undefined;
      });
    this.stateWrite = write;
  }

  private publish(progress: Progress): void {
    this.deps.connection.publish(SUBJECTS.progress(progress.jobId), encodeMessage(progressSchema, progress));
  }

  /** Records progress in KV unless the job ended; a cancellation found there aborts the job. */
  private async recordProgress(step: number, total: number): Promise<void> {
    const change = await this.state.transition({
      state: 'progress',
      workerId: this.deps.workerId,
      step,
      total,
    });
    const status = change.record?.status;
    if (!change.changed && status?.state === 'cancelled') {
      this.controller.abort(new CancelledError(status.cancelledBy));
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
      const preview = await this.deps.images.storePreview(this.job.id, progress.step, png, this.deadline);
      this.publish({ ...progress, preview, at: Date.now() });
    } catch (error) {
      this.log.warn({ err: error }, 'preview:failed');
    }
  }
}
