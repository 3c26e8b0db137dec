/**
 * The lifecycle every long-running command shares (`bot`, `worker`, `up`): start the service, serve
 * /metrics, /healthz and /readyz while it runs, wait for SIGINT, SIGTERM or SIGHUP (the dispatcher
 * turns each into an abort of the command's signal), then shut down in one order: readiness goes
 * false at once, the service stops (it drains its own work), and the metrics server closes last so
 * probes and scrapes keep answering while the service drains.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { startMetricsServer, type MetricsServer } from '../metrics.js';
import { LOG_EVENTS } from '../log-events.js';

/** What a started service gives the runner. */
export interface RunningService {
  /** Whether the service can do its work now (answers /readyz). */
  isReady(): boolean;
  /** Stops the service and releases what it holds; called once. */
  stop(): Promise<void>;
}

export interface RunServiceOptions {
  /** Aborted on SIGINT, SIGTERM and SIGHUP; its reason names the signal. */
  signal: AbortSignal;
  logger: Logger;
  /** Serves the registry (plus Node's default process metrics) when a port is set. */
  metrics?: { port: number | undefined; registry: Registry } | undefined;
  start(): Promise<RunningService>;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    signal.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

/** Runs a service until the signal aborts; returns the exit code. */
export async function runService(options: RunServiceOptions): Promise<number> {
  const { signal, logger, metrics } = options;
  let stopping = false;
  let metricsServer: MetricsServer | undefined;
  const service = await options.start();
  try {
    if (metrics?.port !== undefined) {
      collectDefaultMetrics({ register: metrics.registry });
      metricsServer = await startMetricsServer({
        port: metrics.port,
        registry: metrics.registry,
        isReady: () => !stopping && service.isReady(),
      });
    }
    await untilAborted(signal);
    logger.info(
      { signal: typeof signal.reason === 'string' ? signal.reason : undefined },
      LOG_EVENTS.service.stopping,
    );
  } finally {
    stopping = true;
    try {
      await service.stop();
    } finally {
      await metricsServer?.close();
    }
  }
  logger.info(LOG_EVENTS.service.stopped);
  return 0;
}
