/**
 * Keeps `sdbot up`'s picture of its workers live: each worker is announced when its first
 * heartbeat arrives (models loaded, pulling jobs) and when it leaves the registry, so the summary's
 * "starting" turns into a line saying the worker is ready, with its model and provider.
 */
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from '../logger.js';
import type { NatsConnection } from '../nats.js';
import { WorkerRegistry } from '../nats/kv.js';
import { LOG_EVENTS } from '../log-events.js';

export interface WorkerWatch {
  stop(): void;
}

export async function watchWorkers(
  connection: NatsConnection,
  logger: Logger,
  intervalMs: number,
): Promise<WorkerWatch> {
  const registry = await WorkerRegistry.open(jetstream(connection));
  const known = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const poll = async () => {
    const workers = await registry.list().catch(() => undefined);
    if (workers === undefined || stopped) return;
    const seen = new Set<string>();
    for (const worker of workers) {
      seen.add(worker.workerId);
      if (known.has(worker.workerId)) continue;
      known.add(worker.workerId);
      logger.info(
        {
          workerId: worker.workerId,
          models: worker.models.map((model) => model.id),
          provider: worker.simulated ? 'simulated' : worker.provider,
          slots: worker.slots.total,
        },
        LOG_EVENTS.worker.online,
      );
    }
    for (const id of known) {
      if (seen.has(id)) continue;
      known.delete(id);
      logger.warn({ workerId: id }, LOG_EVENTS.worker.offline);
    }
  };
  const loop = () => {
    timer = setTimeout(() => {
      void poll().finally(() => {
        if (!stopped) loop();
      });
    }, intervalMs);
  };
  loop();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
