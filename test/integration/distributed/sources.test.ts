/**
 * The source images a worker reads are bounded: their size in bytes (SDBOT_MAX_SOURCE_BYTES) before
 * they are read, their pixels (SDBOT_MAX_INPUT_PIXELS) before they are decoded. Either refusal
 * fails the job at once with IMAGE_INVALID; retrying would not change the image.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import { describeDistributed, simulatedJob, submitAndWait } from '../../helpers/distributed-world.js';
import { pixelBombPng } from '../../helpers/pixel-bomb.js';
import type { TestClient } from '../../helpers/workers.js';

describeDistributed('distributed generation: source limits', (world) => {
  let requester: TestClient;

  async function runFromSource(id: string, png: Uint8Array) {
    const { client } = requester;
    const source = await client.uploadSource(id, png);
    return submitAndWait(
      client,
      simulatedJob(client, { id, prompt: 'from source', steps: 2, strength: 0.5, source }),
    );
  }

  it('a source claiming 16000x16000 pixels is refused before it is decoded', async () => {
    await world.startWorker();
    requester = await world.openClient();
    expect(await runFromSource('bomb-source', await pixelBombPng(16_000, 16_000))).toMatchObject({
      type: 'failure',
      code: 'IMAGE_INVALID',
      message:
        'source image bomb-source/source is 16000x16000 = 256000000 pixels, over the limit of 40000000 (SDBOT_MAX_INPUT_PIXELS)',
    });
  });

  it('a source over SDBOT_MAX_SOURCE_BYTES is refused before it is read; a smaller one runs', async () => {
    const env = { SDBOT_MAX_SOURCE_BYTES: '20000' };
    await world.startWorker({ env });
    requester = await world.openClient(env);
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
