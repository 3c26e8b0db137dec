import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger, runService } from '@sdbot/shared';
import { freePort } from '../../helpers/ports.js';

function logger() {
  const lines: string[] = [];
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  return { logger: createLogger({ name: 'test', destination, format: 'json' }), lines };
}

async function status(port: number, path: string): Promise<number | undefined> {
  return (await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined))?.status;
}

describe('the service runner', () => {
  it('serves probes while running, turns readiness off before stopping, and closes the endpoint last', async () => {
    const port = await freePort();
    const { logger: log, lines } = logger();
    const controller = new AbortController();
    const seenDuringStop: (number | undefined)[] = [];
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const done = runService({
      signal: controller.signal,
      logger: log,
      metrics: { port, registry: new Registry() },
      start: () => {
        started();
        return Promise.resolve({
          isReady: () => true,
          stop: async () => {
            seenDuringStop.push(await status(port, '/readyz'), await status(port, '/healthz'));
          },
        });
      },
    });
    await running;
    for (let attempt = 0; attempt < 50 && (await status(port, '/readyz')) !== 200; attempt += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await status(port, '/readyz')).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain(
      'process_cpu_user_seconds_total',
    );

    controller.abort('SIGHUP');
    expect(await done).toBe(0);
    // While the service drained: not ready, still alive; afterwards the endpoint is gone.
    expect(seenDuringStop).toEqual([503, 200]);
    expect(await status(port, '/healthz')).toBeUndefined();
    const events = lines.map((line) => JSON.parse(line) as { msg: string; signal?: string });
    expect(events.find((event) => event.msg === 'service:stopping')?.signal).toBe('SIGHUP');
    expect(events.at(-1)?.msg).toBe('service:stopped');
  });

  it('stops the service and closes the endpoint even when stopping fails', async () => {
    const port = await freePort();
    const controller = new AbortController();
    controller.abort('SIGTERM');
    await expect(
      runService({
        signal: controller.signal,
        logger: logger().logger,
        metrics: { port, registry: new Registry() },
        start: () => Promise.resolve({ isReady: () => true, stop: () => Promise.reject(new Error('stuck')) }),
      }),
    ).rejects.toThrow('stuck');
    expect(await status(port, '/healthz')).toBeUndefined();
  });
});
