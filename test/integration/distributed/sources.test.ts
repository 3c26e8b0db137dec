/**
 * The source images a worker reads are bounded: their size in bytes (SDBOT_MAX_SOURCE_BYTES) before
 * they are read, their pixels (SDBOT_MAX_INPUT_PIXELS) before they are decoded. Either refusal
 * fails the job at once with IMAGE_INVALID; retrying would not change the image.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testJob } from '../../helpers/jobs.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { pixelBombPng } from '../../helpers/pixel-bomb.js';
import {
  cliRequester,
  openTestClient,
  startTestWorker,
  type TestClient,
  type TestWorker,
} from '../../helpers/workers.js';

const available = natsServerAvailable();

describe.skipIf(!available)('distributed generation: source limits', () => {
  let server: NatsTestServer;
  let workers: TestWorker[] = [];
  let requester: TestClient;

  beforeEach(async () => {
    server = await startNatsServer();
  });

  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    workers = [];
    await requester.close();
    await server.cleanup();
  });

  async function runFromSource(id: string, png: Uint8Array) {
    const { client } = requester;
    const job = testJob(client, {
      id,
      prompt: 'from source',
      model: 'sim',
      requester: cliRequester,
      steps: 2,
      width: 64,
      height: 64,
      strength: 0.5,
      source: await client.uploadSource(id, png),
    });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
    await client.submit(job);
    return outcome;
  }

  it('a source claiming 16000x16000 pixels is refused before it is decoded', async () => {
    workers = [await startTestWorker(server.url)];
    requester = await openTestClient(server.url);
    expect(await runFromSource('bomb-source', await pixelBombPng(16_000, 16_000))).toMatchObject({
      type: 'failure',
      code: 'IMAGE_INVALID',
      message:
        'source image bomb-source/source is 16000x16000 = 256000000 pixels, over the limit of 40000000 (SDBOT_MAX_INPUT_PIXELS)',
    });
  });

  it('a source over SDBOT_MAX_SOURCE_BYTES is refused before it is read; a smaller one runs', async () => {
    const env = { SDBOT_MAX_SOURCE_BYTES: '20000' };
    workers = [await startTestWorker(server.url, { env })];
    requester = await openTestClient(server.url, env);
    // Noise does not compress: about 48 KB of PNG.
    const noisy = await sharp(randomBytes(128 * 128 * 3), { raw: { width: 128, height: 128, channels: 3 } })
      .png()
      .toBuffer();
    expect(noisy.length).toBeGreaterThan(20_000);
    const refused = await runFromSource('big-source', noisy);
    expect(refused).toMatchObject({ type: 'failure', code: 'IMAGE_INVALID' });
    expect(refused.type === 'failure' && refused.message).toContain(
      `is ${noisy.length} bytes, over SDBOT_MAX_SOURCE_BYTES (20000)`,
    );
    const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#00ff00' } })
      .png()
      .toBuffer();
    expect(await runFromSource('small-source', small)).toMatchObject({ type: 'result' });
  });
});
