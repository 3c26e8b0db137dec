/**
 * Gauges of the job system as a whole, read from JetStream on each scrape (stream and consumer
 * info, the worker registry): what the dashboard shows as queue depth and backlog per model and
 * workers online by provider. The bot exports them; with several replicas, take max() over them.
 * One snapshot serves every gauge of a scrape, and a slow or failing read never fails the scrape:
 * the gauges keep their last values and `sdbot_system_scrape_errors_total` counts the failure.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WorkerRegistry } from './kv.js';
import { collectStatus, type JobSystemStatus } from './status.js';

export interface SystemMetricsOptions {
  jsm: JetStreamManager;
  workers: WorkerRegistry;
  /** A snapshot younger than this is reused (several gauges, several scrapers). */
  maxAgeMs?: number;
  /** A read slower than this is abandoned for this scrape. */
  timeoutMs?: number;
  now?: () => number;
}

export function registerSystemMetrics(registry: Registry, options: SystemMetricsOptions): void {
  const { jsm, workers, maxAgeMs = 5000, timeoutMs = 3000, now = Date.now } = options;
  let cached: { at: number; status: Promise<JobSystemStatus | undefined> } | undefined;
  const errors = new Counter({
    name: 'sdbot_system_scrape_errors_total',
    help: 'Reads of the job system (streams, consumers, worker registry) that failed during a scrape',
    registers: [registry],
  });
  const snapshot = (): Promise<JobSystemStatus | undefined> => {
    const at = now();
    if (cached !== undefined && at - cached.at < maxAgeMs) return cached.status;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        resolve(undefined);
      }, timeoutMs);
    });
    const read = collectStatus(jsm, workers, { recentDeadLetterCount: 0, now: at }).catch(() => undefined);
    const status = Promise.race([read, deadline]).then((value) => {
      clearTimeout(timer);
      if (value === undefined) errors.inc();
      return value;
    });
    cached = { at, status };
    return status;
  };
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (gauge: Gauge, status: JobSystemStatus) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const status = await snapshot();
        if (status === undefined) return;
        this.reset();
        fill(this, status);
      },
    });

  gauge(
    'sdbot_queue_depth',
    'Jobs waiting for a worker, work queue plus backlog, by model',
    ['model'],
    (g, s) => {
      for (const queue of s.queues) g.set({ model: queue.model }, queue.queued);
    },
  );
  gauge(
    'sdbot_queue_backlog',
    'Of the waiting jobs, those still in the fair-share backlog, by model',
    ['model'],
    (g, s) => {
      for (const queue of s.queues) g.set({ model: queue.model }, queue.backlog);
    },
  );
  gauge(
    'sdbot_queue_running',
    'Jobs handed to a worker and not yet acknowledged, by model',
    ['model'],
    (g, s) => {
      for (const queue of s.queues) g.set({ model: queue.model }, queue.running);
    },
  );
  gauge(
    'sdbot_queue_oldest_wait_seconds',
    'How long the oldest waiting job of each model has waited',
    ['model'],
    (g, s) => {
      for (const queue of s.queues) {
        g.set(
          { model: queue.model },
          queue.oldestQueuedAt === null ? 0 : Math.max(0, s.at - queue.oldestQueuedAt) / 1000,
        );
      }
    },
  );
  gauge(
    'sdbot_workers_online',
    'Live workers (heartbeat in the registry) by execution provider',
    ['provider'],
    (g, s) => {
      const counts = new Map<string, number>();
      for (const worker of s.workers) {
        const provider = worker.simulated ? 'simulated' : worker.provider;
        counts.set(provider, (counts.get(provider) ?? 0) + 1);
      }
      for (const [provider, count] of counts) g.set({ provider }, count);
    },
  );
  gauge('sdbot_dead_letters', 'Jobs kept in the dead-letter stream', [], (g, s) => {
    g.set(s.deadLetters.count);
  });
}
