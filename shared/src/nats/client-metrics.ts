/**
 * Prometheus metrics of the requesting side (the bot, or any JobsClient user): jobs submitted,
 * outcomes by type and code, queue wait as workers report it, and submit-to-outcome time.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { JobOutcome } from '../protocol/outcome.js';

export class JobsClientMetrics {
  readonly submitted: Counter<'model'>;
  readonly outcomes: Counter<'type' | 'code'>;
  readonly queueWait: Histogram;
  readonly jobTime: Histogram;

  constructor(registry: Registry) {
    this.submitted = new Counter({
      name: 'sdbot_jobs_submitted_total',
      help: 'Jobs submitted to the queue, by model',
      labelNames: ['model'],
      registers: [registry],
    });
    this.outcomes = new Counter({
      name: 'sdbot_job_outcomes_total',
      help: 'Job outcomes received (once per job), by type and error code',
      labelNames: ['type', 'code'],
      registers: [registry],
    });
    this.queueWait = new Histogram({
      name: 'sdbot_job_queue_wait_seconds',
      help: 'Time jobs waited for a worker, as reported with their results',
      buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    });
    this.jobTime = new Histogram({
      name: 'sdbot_job_seconds',
      help: 'Time from submitting a job to receiving its outcome',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    });
  }

  recordOutcome(outcome: JobOutcome, submittedAt: number | undefined, now = Date.now()): void {
    this.outcomes.inc({ type: outcome.type, code: outcome.type === 'failure' ? outcome.code : 'OK' });
    if (outcome.type === 'result') this.queueWait.observe(outcome.timings.queuedMs / 1000);
    if (submittedAt !== undefined) this.jobTime.observe(Math.max(0, now - submittedAt) / 1000);
  }
}
