import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { runCli } from '@sdbot/shared';
import { runSdbot } from '../../helpers/cli.js';
import { natsServerAvailable, startNatsServer } from '../../helpers/nats-server.js';
import { freePort } from '../../helpers/ports.js';
import { alive } from '../../helpers/process-alive.js';
import { openTestClient, type TestClient } from '../../helpers/workers.js';
import { useTemporaryDirectory } from '../../helpers/temporary-directory.js';

const available = natsServerAvailable();

async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function childPids(log: string, name: string): number[] {
  return [...log.matchAll(/"process":"([^"]+)","childPid":(\d+)/g)]
    .filter((match) => match[1] === name)
    .map((match) => Number(match[2]));
}

describe.skipIf(!available)('sdbot up', () => {
  const data = useTemporaryDirectory('sdbot-up-');

  it('runs NATS and simulated workers, restarts a crashed worker, and shuts everything down', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const output = new PassThrough();
    let log = '';
    output.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const controller = new AbortController();
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info' };
    const up = runCli(
      ['up', '--simulate', '5', '--model', 'sim', '--data', data.path, '--port', String(port)],
      {
        stdout: output,
        stderr: output,
        env,
        signal: controller.signal,
      },
    );
    let requester: TestClient | undefined;
    try {
      requester = await eventually(() => openTestClient(url), 30_000, 'the local NATS server');
      const client = requester.client;
      const [first] = await eventually(
        async () => ((await client.liveWorkers()).length === 1 ? client.liveWorkers() : undefined),
        30_000,
        'a worker',
      );
      const imagine = [
        'imagine',
        '--nats',
        url,
        '--prompt',
        'local',
        '--steps',
        '2',
        '--width',
        '64',
        '--height',
        '64',
      ];
      const round = await runSdbot([...imagine, '--out', join(data.path, 'one.png')], {
        LOG_LEVEL: 'silent',
      });
      expect(round.stderr).toContain('step 2/2');
      expect(round.code).toBe(0);

      const [workerPid] = childPids(log, 'worker sim');
      process.kill(workerPid!, 'SIGKILL');
      await eventually(
        async () =>
          (await client.liveWorkers()).some((worker) => worker.workerId !== first?.workerId)
            ? true
            : undefined,
        30_000,
        'the restarted worker',
      );
      expect(log).toContain('process:restarting');
      const again = await runSdbot([...imagine, '--out', join(data.path, 'two.png')], {
        LOG_LEVEL: 'silent',
      });
      expect(again.code).toBe(0);
    } finally {
      await requester?.close();
      controller.abort();
    }
    expect(await up).toBe(0);
    expect(log).toContain('running without the Discord bot');
    for (const pid of [...childPids(log, 'worker sim'), ...childPids(log, 'nats-server')])
      expect(alive(pid)).toBe(false);
    await expect(connect({ servers: url, timeout: 500, reconnect: false })).rejects.toThrow();
  });

  it('says how to get nats-server when it is missing', async () => {
    const run = await runSdbot(
      ['up', '--simulate', '1', '--model', 'sim', '--nats-server', '/nonexistent/nats-server'],
      {
        LOG_LEVEL: 'silent',
      },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('apt-get install nats-server');
    expect(run.stderr).toContain('https://nats.io/download/');
  });

  it('refuses a port another server already listens on instead of provisioning that server', async () => {
    const other = await startNatsServer();
    try {
      const run = await runSdbot(
        [
          'up',
          '--simulate',
          '1',
          '--model',
          'sim',
          '--port',
          String(other.port),
          '--data',
          join(data.path, 'busy'),
        ],
        { LOG_LEVEL: 'silent' },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`port ${other.port} on 127.0.0.1 is already in use`);
      expect(run.stderr).toContain(`NATS_URL=nats://127.0.0.1:${other.port}`);
      const probe = await connect({ servers: other.url });
      const streams = await (await jetstreamManager(probe)).streams.names().next();
      await probe.close();
      expect(streams).toEqual([]);
    } finally {
      await other.cleanup();
    }
  });

  it('refuses a model path that is not a model directory before starting anything', async () => {
    const run = await runSdbot(
      ['up', '--model', join(data.path, 'no-such-model'), '--data', join(data.path, 'typo')],
      {
        LOG_LEVEL: 'silent',
      },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error [MODEL_INVALID]: not a model directory (no model_index.json)');
    expect(run.stderr).toContain(join(data.path, 'no-such-model'));
    expect(existsSync(join(data.path, 'typo'))).toBe(false);
  });

  it('refuses to start without a model', async () => {
    const run = await runSdbot(['up', '--simulate', '1'], { LOG_LEVEL: 'silent' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no models: pass --model DIR');
  });
});
