/**
 * `/imagine image:` end to end: the real bot downloads the upload from the (emulated) CDN, checks
 * it, turns it into a source image at the job's area with its own aspect ratio, and submits an
 * img2img job the worker reads the source of. Images from elsewhere, files that are not images,
 * oversized files are refused privately, saying why; an animated GIF gives its first frame.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { EmulatorUpload } from '../discord-emulator/index.js';
import { BotWorld, jobIdOf, privateAnswer, resultOf } from '../helpers/bot-world.js';
import { useCdnBotWorld } from '../helpers/e2e-bot.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();

async function solidPng(width: number, height: number, colour: string): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

describe.skipIf(!hasNats)(`bring your own image${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useCdnBotWorld(512 * 512);

  async function sourceOf(jobId: string) {
    const { client } = await world.jobs();
    const job = (await client.state(jobId))?.job;
    if (job?.kind !== 'img2img') throw new Error(`job ${jobId} is not img2img`);
    const bytes = Buffer.from(await client.readImage(job.source.image));
    return { job, image: sharp(bytes), bytes };
  }

  it('uses an uploaded PNG as an img2img source at the job area, keeping its aspect ratio', async () => {
    const upload = {
      filename: 'wide.png',
      contentType: 'image/png',
      data: await solidPng(800, 400, '#c03030'),
    };
    const result = await resultOf(
      await world.imagine({ prompt: 'a red field --count 1 --steps 2', image: upload }),
    );
    const { job, image } = await sourceOf(jobIdOf(result));
    expect(job.strength).toBe(0.6);
    expect(job.width / job.height).toBeCloseTo(2, 0);
    expect(job.width % 64).toBe(0);
    expect(job.height % 64).toBe(0);
    expect(job.width * job.height).toBeLessThanOrEqual(512 * 512);
    const meta = await image.metadata();
    expect([meta.width, meta.height]).toEqual([job.width, job.height]);
    const stats = await image.stats();
    expect(Math.round(stats.channels[0]!.mean)).toBe(0xc0);
  });

  it('takes the strength option', async () => {
    const upload = { filename: 'a.png', contentType: 'image/png', data: await solidPng(256, 256, '#208020') };
    const result = await resultOf(
      await world.imagine({ prompt: 'green --count 1 --steps 2', image: upload, strength: 0.25 }),
    );
    expect((await sourceOf(jobIdOf(result))).job.strength).toBe(0.25);
  });

  it('uses the first frame of an animated GIF', async () => {
    const frames = await Promise.all([solidPng(128, 128, '#ff0000'), solidPng(128, 128, '#0000ff')]);
    const gif = await sharp(frames, { join: { animated: true } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const result = await resultOf(
      await world.imagine({
        prompt: 'first frame --count 1 --steps 2',
        image: { filename: 'anim.gif', contentType: 'image/gif', data: gif },
      }),
    );
    const stats = await (await sourceOf(jobIdOf(result))).image.stats();
    expect(stats.channels[0]!.mean).toBeGreaterThan(200);
    expect(stats.channels[2]!.mean).toBeLessThan(50);
  });

  /** What the bot answers privately to /imagine `prompt` with `image` attached. */
  async function answerTo(prompt: string, image: EmulatorUpload): Promise<string> {
    return privateAnswer(world, await world.imagine({ prompt, image }));
  }

  it('refuses a file that is not an image, saying so', async () => {
    const text = { filename: 'notes.txt', contentType: 'text/plain', data: Buffer.from('hello') };
    expect(await answerTo('a text file', text)).toBe(
      'notes.txt is not an image (text/plain); attach a PNG, JPEG, WebP or GIF.',
    );
  });

  it('refuses an image over 10 MB before downloading it', async () => {
    const huge = { filename: 'huge.png', contentType: 'image/png', data: Buffer.alloc(11 * 1024 * 1024) };
    expect(await answerTo('a huge file', huge)).toBe(
      'huge.png is 11.0 MB; images up to 10.0 MB are accepted.',
    );
  });

  it('refuses bytes that do not decode as an image, even with an image type', async () => {
    const fake = { filename: 'fake.png', contentType: 'image/png', data: Buffer.from('not really a png') };
    expect(await answerTo('a fake png', fake)).toBe(
      'fake.png is not an image the bot can read; attach a PNG, JPEG, WebP or GIF.',
    );
  });

  it('refuses a strength without an image', async () => {
    const interaction = await world.imagine({ prompt: 'no image', strength: 0.3 });
    expect(await privateAnswer(world, interaction)).toMatch(/strength: needs an image to start from/);
  });
});

describe.skipIf(!hasNats)(
  `images from outside Discord's CDN${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    it('are never downloaded', async () => {
      const world = await BotWorld.start({ workers: [{ models: ['sim'], msPerStep: 5 }] });
      try {
        // Without DISCORD_CDN_URL the emulator's address is not Discord's CDN.
        await world.startBot();
        const before = world.emulator.calls.length;
        const interaction = await world.imagine({
          prompt: 'from elsewhere',
          image: { filename: 'a.png', contentType: 'image/png', data: await solidPng(64, 64, '#ffffff') },
        });
        const host = new URL(world.emulator.baseUrl).host;
        expect(await privateAnswer(world, interaction)).toBe(
          `The image must be uploaded to Discord; the bot does not download from ${host}.`,
        );
        const downloads = world.emulator.calls
          .slice(before)
          .filter((call) => call.method === 'GET' && call.path.includes('/attachments/'));
        expect(downloads).toEqual([]);
      } finally {
        await world.cleanup();
      }
    });
  },
);
