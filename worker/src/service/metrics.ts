/**
 * Prometheus metrics of a worker. Each worker service has its own registry, so several services in
 * one process (tests, the scale bench) never collide.
 */
import { counter, gauge, histogram, metricsInOwnRegistry, type RegistryMetrics } from '@sdbot/shared';

/** How a delivery of a job ended, as the `outcome` label of sdbot_worker_jobs_total. */
export type DeliveryOutcome =
  'completed' | 'failed' | 'cancelled' | 'retried' | 'released' | 'duplicate' | 'dead_lettered';

const WORKER_METRICS = {
  jobs: counter('sdbot_worker_jobs_total', 'Job deliveries by model and how they ended', [
    'model',
    'outcome',
  ]),
  queueWait: histogram(
    'sdbot_worker_queue_wait_seconds',
    'Time from submission to a worker starting the job',
    [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    ['model'],
  ),
  stepTime: histogram(
    'sdbot_worker_step_seconds',
    'Duration of one denoising step',
    [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    ['model'],
  ),
  jobTime: histogram(
    'sdbot_worker_job_seconds',
    'Time a worker spent on a completed job',
    [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    ['model'],
  ),
  images: counter('sdbot_worker_images_total', 'Images generated (rate() gives images per second)', [
    'model',
  ]),
  imagesPerSecond: gauge(
    'sdbot_worker_images_per_second',
    'Images generated per second over the last minute',
  ),
  redeliveries: counter(
    'sdbot_worker_redeliveries_total',
    'Jobs received again after a worker died, timed out or released them',
    ['model'],
  ),
  deadLetters: counter(
    'sdbot_worker_dead_letters_total',
    'Jobs moved to the dead-letter stream, by error code',
    ['code'],
  ),
  busySlots: gauge('sdbot_worker_busy_slots', 'Slots whose job is making its images'),
  slots: gauge('sdbot_worker_slots', 'Jobs this worker makes images for at once'),
};

export type WorkerMetrics = RegistryMetrics<typeof WORKER_METRICS>;

export function createWorkerMetrics(): WorkerMetrics {
  return metricsInOwnRegistry(WORKER_METRICS);
}
