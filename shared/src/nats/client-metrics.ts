/**
 * Prometheus metrics of the requesting side (the bot, or any JobsClient user): jobs submitted,
 * outcomes by type and code, queue wait as workers report it, and submit-to-outcome time.
 */
import type { Counter, Histogram, Registry } from 'prom-client';
import { metricKinds } from '../metric-kinds.js';
import type { JobOutcome } from '../protocol/outcome.js';

export class JobsClientMetrics {
  readonly submitted: Counter<'model'>;
  readonly outcomes: Counter<'type' | 'code'>;
  readonly queueWait: Histogram;
  readonly jobTime: Histogram;

  constructor(registry: Registry) {
    const metric = metricKinds(registry);
    this.submitted = metric.counter('sdbot_jobs_submitted_total', 'Jobs submitted to the queue, by model', [
      'model',
    ]);
    this.outcomes = metric.counter(
      'sdbot_job_outcomes_total',
      'Job outcomes received (once per job), by type and error code',
      ['type', 'code'],
    );
    this.queueWait = metric.histogram(
      'sdbot_job_queue_wait_seconds',
      'Time jobs waited for a worker, as reported with their results',
      { buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600] },
    );
    this.jobTime = metric.histogram(
      'sdbot_job_seconds',
      'Time from submitting a job to receiving its outcome',
      { buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600] },
    );
  }

  recordOutcome(outcome: JobOutcome, submittedAt: number | undefined, now = Date.now()): void {
    this.outcomes.inc({ type: outcome.type, code: outcome.type === 'failure' ? outcome.code : 'OK' });
    if (outcome.type === 'result') this.queueWait.observe(outcome.timings.queuedMs / 1000);
    if (submittedAt !== undefined) this.jobTime.observe(Math.max(0, now - submittedAt) / 1000);
  }
}
