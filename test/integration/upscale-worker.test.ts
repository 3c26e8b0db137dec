/**
 * `sdbot worker --upscaler DIR` as a real process against a real nats-server: the upscaler is
 * announced in the registry and `sdbot status`, and an `upscale` job sent to its queue comes back
 * twice the size, with the parameters text of its source and the upscaler added.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createJobSchema, validate, type JobSystemStatus } from '@sdbot/shared';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, readParameters } from '../../worker/src/provenance.js';
import { runSdbot } from '../helpers/cli.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../helpers/nats-server.js';
import { repositoryRoot, sharedFixture } from '../helpers/shared-fixtures.js';
import { photoLikeImage } from '../helpers/synthetic-images.js';
import { childEnv, sdbotEntryPoint } from '../helpers/worker-process.js';
import { cliRequester, openTestClient, type TestClient } from '../helpers/workers.js';

const hasNats = natsServerAvailable();
const rdn = sharedFixture('upscaler-rdn');

describe.skipIf(!hasNats || !rdn.available)(`sdbot worker --upscaler${rdn.skipNote}`, () => {
  let server: NatsTestServer;
  let worker: ChildProcess;
  let client: TestClient;
  let log = '';

  beforeAll(async () => {
    server = await startNatsServer();
    worker = spawn(
      process.execPath,
      [
        sdbotEntryPoint,
        'worker',
        '--nats',
        server.url,
        '--id',
        'upscaler-1',
        '--upscaler',
        join(rdn.path, 'x2'),
      ],
      {
        cwd: repositoryRoot,
        env: childEnv({ SDBOT_HEARTBEAT_INTERVAL: '1s' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    worker.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    worker.stdout?.resume();
    client = await openTestClient(server.url);
  });

  afterAll(async () => {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
    await client.close();
    await server.cleanup();
  });

  it('is announced with its scale and upscales a job from its queue', async () => {
    const deadline = Date.now() + 30_000;
    while ((await client.client.servedUpscalers()).length === 0) {
      if (Date.now() > deadline) throw new Error(`the worker never announced itself:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await client.client.servedUpscalers()).toEqual([{ id: 'x2', name: 'x2', scale: 2 }]);
    expect(await client.client.servedModels()).toEqual([]);
    const status = await runSdbot(['status', '--nats', server.url]);
    expect(status.stdout).toMatch(/upscaler-1 +x2 \(upscaler 2x\)/);
    const json = JSON.parse(
      (await runSdbot(['status', '--nats', server.url, '--json'])).stdout,
    ) as JobSystemStatus;
    expect(json.workers[0]?.models).toEqual([
      { id: 'x2', name: 'x2', safetyChecker: false, upscaler: { scale: 2 } },
    ]);

    const parameters = 'a harbour\nSteps: 20, Sampler: PLMS, CFG scale: 7, Seed: 5, Size: 96x80';
    const source = await client.client.uploadSource(
      'upscale-1',
      await encodePng(photoLikeImage(96, 80, 'landscape', 2), 96, 80, parameters),
    );
    const job = validate(createJobSchema({ maxPixels: 1024 * 1024 }), {
      v: 1,
      id: 'upscale-1',
      kind: 'upscale',
      model: 'x2',
      source: { image: source },
      requester: cliRequester,
      createdAt: Date.now(),
    });
    await client.client.submit(job);
    const outcome = await client.client.awaitOutcome(job.id, { timeoutMs: 60_000 });
    expect(outcome.type, JSON.stringify(outcome)).toBe('result');
    if (outcome.type !== 'result') return;
    expect(outcome.images).toHaveLength(1);
    const png = await client.client.readImage(outcome.images[0]!.image);
    expect(await sharp(png).metadata()).toMatchObject({ width: 192, height: 160, format: 'png' });
    expect(readParameters(png)).toBe(`${parameters}, Postprocess upscale by: 2, Postprocess upscaler: x2`);
  });
});
