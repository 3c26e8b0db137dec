import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { SdbotError } from '@sdbot/shared';
import {
  SimulatedGenerator,
  ThroughputTracker,
  encodeRgbPng,
  latentsToRgb,
  previewPng,
  seedColour,
  seedGradient,
} from '@sdbot/worker';
import { exampleGenerationJob } from '../../helpers/messages.js';

const job = (overrides: Parameters<typeof exampleGenerationJob>[0] = {}) =>
  exampleGenerationJob({
    model: 'sim',
    steps: 3,
    width: 128,
    height: 64,
    count: 2,
    seed: 0x0a0b0c,
    ...overrides,
  });

describe('SimulatedGenerator', () => {
  it('reports every step with latents and returns one PNG per image, seed colours in the corner', async () => {
    const generator = new SimulatedGenerator(['sim'], 0);
    const steps: [number, number, number][] = [];
    const output = await generator.generate(
      { job: job() },
      {
        signal: new AbortController().signal,
        onStep: (step, total, latents) => steps.push([step, total, latents?.length ?? 0]),
      },
    );
    expect(steps).toEqual([
      [1, 3, 4 * 8 * 16],
      [2, 3, 4 * 8 * 16],
      [3, 3, 4 * 8 * 16],
    ]);
    expect(output.images.map((image) => [image.seed, image.width, image.height, image.nsfw])).toEqual([
      [0x0a0b0c, 128, 64, false],
      [0x0a0b0d, 128, 64, false],
    ]);
    const pixels = await sharp(output.images[1]!.png).raw().toBuffer();
    expect([...pixels.subarray(0, 3)]).toEqual(seedColour(0x0a0b0d));
  });

  it('draws each image as the gradient of its seed, exactly, at any size', async () => {
    const generator = new SimulatedGenerator(['sim'], 0);
    const hooks = { signal: new AbortController().signal, onStep: () => undefined };
    for (const [width, height] of [
      [64, 64],
      [64, 256],
      [320, 192],
    ] as const) {
      const output = await generator.generate({ job: job({ width, height, seed: 0xfedcba98 }) }, hooks);
      for (const image of output.images) {
        const { data, info } = await sharp(image.png).raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height, info.channels]).toEqual([width, height, 3]);
        expect(Buffer.compare(data, Buffer.from(seedGradient(image.seed, width, height)))).toBe(0);
        // Bottom right: the complement of the seed's colour.
        expect([...data.subarray(-3)]).toEqual(seedColour(image.seed).map((value) => 255 - value));
      }
    }
  });

  it('runs only strength x steps for img2img and keeps the source at strength 0', async () => {
    const source = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    const img2img = job({
      kind: 'img2img',
      steps: 10,
      strength: 0.3,
      count: 1,
      source: { image: { store: 'sdbot-images', name: 'x/source', size: 1, contentType: 'image/png' } },
    });
    const totals: number[] = [];
    const generator = new SimulatedGenerator(['sim'], 0);
    await generator.generate(
      { job: img2img, sourceImage: source },
      { signal: new AbortController().signal, onStep: (_step, total) => totals.push(total) },
    );
    expect(totals).toEqual([3, 3, 3]);
    const kept = await generator.generate(
      { job: { ...img2img, strength: 0 }, sourceImage: source },
      { signal: new AbortController().signal, onStep: () => undefined },
    );
    const pixels = await sharp(kept.images[0]!.png).raw().toBuffer();
    expect([...pixels.subarray(0, 3)]).toEqual([0x12, 0x34, 0x56]);
  });

  it('stops at the next step when aborted, with the abort reason', async () => {
    const controller = new AbortController();
    const generator = new SimulatedGenerator(['sim'], 20);
    const seen: number[] = [];
    const running = generator.generate(
      { job: job({ steps: 50 }) },
      {
        signal: controller.signal,
        onStep: (step) => {
          seen.push(step);
          if (step === 2) controller.abort(new SdbotError('CANCELLED', 'cancelled by tester'));
        },
      },
    );
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toEqual([1, 2]);
  });

  it('refuses a model it does not serve and an unreadable source image', async () => {
    const generator = new SimulatedGenerator(['sim'], 0);
    const hooks = { signal: new AbortController().signal, onStep: () => undefined };
    await expect(generator.generate({ job: job({ model: 'other' }) }, hooks)).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL',
    });
    await expect(
      generator.generate({ job: job(), sourceImage: new Uint8Array([1, 2, 3]) }, hooks),
    ).rejects.toMatchObject({
      code: 'IMAGE_INVALID',
    });
    expect(() => new SimulatedGenerator(['bad id'], 0)).toThrow('model id "bad id"');
  });
});

describe('encodeRgbPng', () => {
  it('writes a PNG that decoders read back pixel for pixel, and refuses a size that does not fit', async () => {
    // Noise: every byte value, and left neighbours above and below each pixel (the "sub" filter
    // wraps around 256).
    const pixels = Uint8Array.from({ length: 33 * 7 * 3 }, (_, index) => (index * 97 + (index >> 3)) & 0xff);
    const png = encodeRgbPng(pixels, 33, 7);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([33, 7, 3]);
    expect(Buffer.compare(data, Buffer.from(pixels))).toBe(0);
    expect(() => encodeRgbPng(pixels, 33, 8)).toThrow('are not 33x8 RGB pixels');
  });
});

describe('latent previews', () => {
  it('maps SD 1.x latent channels to RGB with the linear approximation', () => {
    // One pixel per channel plane: channel 0 only -> (0.298, 0.207, 0.208) -> ((v + 1) / 2) * 255.
    const latents = Float32Array.of(1, 0, 0, 0);
    expect([...latentsToRgb(latents, 1, 1)]).toEqual([165, 154, 154]);
    expect([...latentsToRgb(new Float32Array(4), 1, 1)]).toEqual([128, 128, 128]);
    expect(() => latentsToRgb(new Float32Array(3), 1, 1)).toThrow(RangeError);
  });

  it('draws a small PNG (twice the latent size) without the VAE', async () => {
    const png = await previewPng(new Float32Array(4 * 8 * 4), 64, 32);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 16, 8]);
  });
});

describe('ThroughputTracker', () => {
  it('counts jobs, steps and images of the last minute, over the uptime when shorter', () => {
    const tracker = new ThroughputTracker(0);
    tracker.recordJob(2, 5_000);
    for (let step = 0; step < 20; step += 1) tracker.recordStep(5_000);
    expect(tracker.snapshot(10_000)).toEqual({ jobsPerMinute: 6, stepsPerSecond: 2, imagesPerSecond: 0.2 });
    expect(tracker.snapshot(70_000)).toEqual({ jobsPerMinute: 0, stepsPerSecond: 0, imagesPerSecond: 0 });
  });
});
