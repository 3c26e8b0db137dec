/**
 * Prometheus metrics of the requesting side (the bot, or any JobsClient user): jobs submitted,
 * outcomes by type and code, queue wait as workers report it, and submit-to-outcome time.
 */
import type { Registry } from 'prom-client';
import { declareMetrics, type DeclaredMetrics, type MetricTable } from '../metric-table.js';
import type { JobOutcome } from '../protocol/outcome.js';

const JOBS_CLIENT_METRICS = {
  submitted: {
    kind: 'counter',
    name: 'sdbot_jobs_submitted_total',
    help: 'Jobs submitted to the queue, by model',
    labelNames: ['model'],
  },
  outcomes: {
    kind: 'counter',
    name: 'sdbot_job_outcomes_total',
    help: 'Job outcomes received (once per job), by type and error code',
    labelNames: ['type', 'code'],
  },
  queueWait: {
    kind: 'histogram',
    name: 'sdbot_job_queue_wait_seconds',
    help: 'Time jobs waited for a worker, as reported with their results',
    buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
  },
  jobTime: {
    kind: 'histogram',
    name: 'sdbot_job_seconds',
    help: 'Time from submitting a job to receiving its outcome',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
  },
} as const satisfies MetricTable;

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
