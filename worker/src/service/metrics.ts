/**
 * Prometheus metrics of a worker. Each worker service has its own registry, so several services in
 * one process (tests, the scale bench) never collide.
 */
import { metricsInOwnRegistry, type MetricTable, type RegistryMetrics } from '@sdbot/shared';

/** How a delivery of a job ended, as the `outcome` label of sdbot_worker_jobs_total. */
export type DeliveryOutcome =
  'completed' | 'failed' | 'cancelled' | 'retried' | 'released' | 'duplicate' | 'dead_lettered';

const WORKER_METRICS = {
  jobs: {
    kind: 'counter',
    name: 'sdbot_worker_jobs_total',
    help: 'Job deliveries by model and how they ended',
    labelNames: ['model', 'outcome'],
  },
  queueWait: {
    kind: 'histogram',
    name: 'sdbot_worker_queue_wait_seconds',
    help: 'Time from submission to a worker starting the job',
    buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    labelNames: ['model'],
  },
  stepTime: {
    kind: 'histogram',
    name: 'sdbot_worker_step_seconds',
    help: 'Duration of one denoising step',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    labelNames: ['model'],
  },
  jobTime: {
    kind: 'histogram',
    name: 'sdbot_worker_job_seconds',
    help: 'Time a worker spent on a completed job',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    labelNames: ['model'],
  },
  images: {
    kind: 'counter',
    name: 'sdbot_worker_images_total',
    help: 'Images generated (rate() gives images per second)',
    labelNames: ['model'],
  },
  imagesPerSecond: {
    kind: 'gauge',
    name: 'sdbot_worker_images_per_second',
    help: 'Images generated per second over the last minute',
  },
  redeliveries: {
    kind: 'counter',
    name: 'sdbot_worker_redeliveries_total',
    help: 'Jobs received again after a worker died, timed out or released them',
    labelNames: ['model'],
  },
  deadLetters: {
    kind: 'counter',
    name: 'sdbot_worker_dead_letters_total',
    help: 'Jobs moved to the dead-letter stream, by error code',
    labelNames: ['code'],
  },
  busySlots: { kind: 'gauge', name: 'sdbot_worker_busy_slots', help: 'Jobs running now' },
  slots: { kind: 'gauge', name: 'sdbot_worker_slots', help: 'Jobs this worker runs at once' },
} as const satisfies MetricTable;

export type WorkerMetrics = RegistryMetrics<typeof WORKER_METRICS>;

export function createWorkerMetrics(): WorkerMetrics {
  return metricsInOwnRegistry(WORKER_METRICS);
}
