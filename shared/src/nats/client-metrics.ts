/**
 * Prometheus metrics of the requesting side (the bot, or any JobsClient user): jobs submitted,
 * outcomes by type and code, queue wait as workers report it, and submit-to-outcome time.
 */
import type { Registry } from 'prom-client';
import { counter, declareMetrics, histogram, type DeclaredMetrics } from '../metric-table.js';
import type { JobOutcome } from '../protocol/outcome.js';

const JOBS_CLIENT_METRICS = {
  submitted: counter('sdbot_jobs_submitted_total', 'Jobs submitted to the queue, by model', ['model']),
  outcomes: counter(
    'sdbot_job_outcomes_total',
    'Job outcomes received (once per job), by type and error code',
    ['type', 'code'],
  ),
  queueWait: histogram(
    'sdbot_job_queue_wait_seconds',
    'Time jobs waited for a worker, as reported with their results',
    [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
  ),
  jobTime: histogram(
    'sdbot_job_seconds',
    'Time from submitting a job to receiving its outcome',
    [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
  ),
};

export class JobsClientMetrics {
  private readonly metric: DeclaredMetrics<typeof JOBS_CLIENT_METRICS>;

  constructor(registry: Registry) {
    this.metric = declareMetrics(registry, JOBS_CLIENT_METRICS);
  }

  recordSubmission(model: string): void {
    this.metric.submitted.inc({ model });
  }

  recordOutcome(outcome: JobOutcome, submittedAt: number | undefined, now = Date.now()): void {
    this.metric.outcomes.inc({ type: outcome.type, code: outcome.type === 'failure' ? outcome.code : 'OK' });
    if (outcome.type === 'result') this.metric.queueWait.observe(outcome.timings.queuedMs / 1000);
    if (submittedAt !== undefined) this.metric.jobTime.observe(Math.max(0, now - submittedAt) / 1000);
  }
}
