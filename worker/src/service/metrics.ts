/**
 * Prometheus metrics of a worker. Each worker service has its own registry, so several services in
 * one process (tests, the scale bench) never collide.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a delivery of a job ended, as the `outcome` label of sdbot_worker_jobs_total. */
export type DeliveryOutcome =
  'completed' | 'failed' | 'cancelled' | 'retried' | 'released' | 'duplicate' | 'dead_lettered';

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly jobs = new Counter({
    name: 'sdbot_worker_jobs_total',
    help: 'Job deliveries by model and how they ended',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'sdbot_worker_queue_wait_seconds',
    help: 'Time from submission to a worker starting the job',
    labelNames: ['model'] as const,
    buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  readonly stepTime = new Histogram({
    name: 'sdbot_worker_step_seconds',
    help: 'Duration of one denoising step',
    labelNames: ['model'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly jobTime = new Histogram({
    name: 'sdbot_worker_job_seconds',
    help: 'Time a worker spent on a completed job',
    labelNames: ['model'] as const,
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly images = new Counter({
    name: 'sdbot_worker_images_total',
    help: 'Images generated (rate() gives images per second)',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly imagesPerSecond = new Gauge({
    name: 'sdbot_worker_images_per_second',
    help: 'Images generated per second over the last minute',
    registers: [this.registry],
  });
  readonly redeliveries = new Counter({
    name: 'sdbot_worker_redeliveries_total',
    help: 'Jobs received again after a worker died, timed out or released them',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: 'sdbot_worker_dead_letters_total',
    help: 'Jobs moved to the dead-letter stream, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly busySlots = new Gauge({
    name: 'sdbot_worker_busy_slots',
    help: 'Jobs running now',
    registers: [this.registry],
  });
  readonly slots = new Gauge({
    name: 'sdbot_worker_slots',
    help: 'Jobs this worker runs at once',
    registers: [this.registry],
  });
}
