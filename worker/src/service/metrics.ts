/**
 * Prometheus metrics of a worker. Each worker service has its own registry, so several services in
 * one process (tests, the scale bench) never collide.
 */
import { metricKinds } from '@sdbot/shared';
import { Registry } from 'prom-client';

/** How a delivery of a job ended, as the `outcome` label of sdbot_worker_jobs_total. */
export type DeliveryOutcome =
  'completed' | 'failed' | 'cancelled' | 'retried' | 'released' | 'duplicate' | 'dead_lettered';

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly metric = metricKinds(this.registry);
  readonly jobs = this.metric.counter(
    'sdbot_worker_jobs_total',
    'Job deliveries by model and how they ended',
    ['model', 'outcome'],
  );
  readonly queueWait = this.metric.histogram(
    'sdbot_worker_queue_wait_seconds',
    'Time from submission to a worker starting the job',
    { buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600], labelNames: ['model'] },
  );
  readonly stepTime = this.metric.histogram('sdbot_worker_step_seconds', 'Duration of one denoising step', {
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    labelNames: ['model'],
  });
  readonly jobTime = this.metric.histogram(
    'sdbot_worker_job_seconds',
    'Time a worker spent on a completed job',
    { buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], labelNames: ['model'] },
  );
  readonly images = this.metric.counter(
    'sdbot_worker_images_total',
    'Images generated (rate() gives images per second)',
    ['model'],
  );
  readonly imagesPerSecond = this.metric.gauge(
    'sdbot_worker_images_per_second',
    'Images generated per second over the last minute',
  );
  readonly redeliveries = this.metric.counter(
    'sdbot_worker_redeliveries_total',
    'Jobs received again after a worker died, timed out or released them',
    ['model'],
  );
  readonly deadLetters = this.metric.counter(
    'sdbot_worker_dead_letters_total',
    'Jobs moved to the dead-letter stream, by error code',
    ['code'],
  );
  readonly busySlots = this.metric.gauge('sdbot_worker_busy_slots', 'Jobs running now');
  readonly slots = this.metric.gauge('sdbot_worker_slots', 'Jobs this worker runs at once');
}
