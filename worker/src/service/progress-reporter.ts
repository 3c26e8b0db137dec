/**
 * Reports the steps of one job: core NATS progress on every step, job state in KV at most once a
 * second, and a preview image every SDBOT_PREVIEW_EVERY steps (never more than one in flight).
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

/** Job state in KV is updated at most this often while steps advance. */
const STATE_WRITE_INTERVAL_MS = 1000;

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
  private lastStateWrite = 0;
  private stateWrite: Promise<void> | undefined;
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
    this.publish(progress);
    // The first step at once (/queue shows the step), then at most once a second, and the last.
    if (
      this.stateWrite === undefined &&
      (now - this.lastStateWrite >= STATE_WRITE_INTERVAL_MS || step === total)
    ) {
      this.lastStateWrite = now;
      this.stateWrite = this.recordProgress(step, total)
        .catch((error: unknown) => {
          this.log.warn({ err: error }, 'progress:record-failed');
        })
        .finally(() => {
          this.stateWrite = undefined;
        });
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

  /** Waits for writes still in flight, so none lands after the job's final state. */
  async settled(): Promise<void> {
    await this.stateWrite;
    await this.preview;
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
