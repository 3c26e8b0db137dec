import { join } from 'node:path';
import { SdbotError } from '@sdbot/shared';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableDiffusionModel } from '../../worker/src/diffusion/model.js';
import { createNoiseGenerator } from '../../worker/src/diffusion/noise.js';
import type { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { createScheduler } from '../../worker/src/diffusion/schedulers/index.js';
import { denoise } from '../../worker/src/diffusion/stages/denoise.js';
import { encodeText } from '../../worker/src/diffusion/stages/text-encoder.js';
import { pixelDiff, pixelSpread } from '../helpers/images.js';
import { catRequest, loadTinySd, loadTinySdModel, tinySd, tinySdGolden } from '../helpers/tiny-sd.js';

describe.skipIf(!tinySd.available)(`pipeline features on tiny-sd${tinySd.skipNote}`, () => {
  let pipeline: StableDiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadTinySd();
  });
  afterAll(async () => {
    await pipeline.release();
  });

  describe('batches and seeds', () => {
    it('image i of a batch equals a single-image run with seed + i', async () => {
      const batch = await pipeline.generate({ ...catRequest, count: 2 });
      const second = await pipeline.generate({ ...catRequest, seed: catRequest.seed + 1 });
      const first = await pipeline.generate(catRequest);
      expect(batch.images.map((image) => image.seed)).toEqual([42, 43]);
      expect(batch.images[0]!.pixels).toEqual(first.images[0]!.pixels);
      expect(batch.images[1]!.pixels).toEqual(second.images[0]!.pixels);
      expect(pixelDiff(batch.images[0]!.pixels, batch.images[1]!.pixels).mean).toBeGreaterThan(1);
    });

    it('wraps seeds past 2^32 - 1 to 0', async () => {
      const result = await pipeline.generate({ ...catRequest, seed: 2 ** 32 - 1, count: 2, steps: 2 });
      expect(result.images.map((image) => image.seed)).toEqual([2 ** 32 - 1, 0]);
    });

    it('draws torch noise when asked, which gives a different image for the same seed', async () => {
      const numpy = await pipeline.generate(catRequest);
      const torch = await pipeline.generate({ ...catRequest, rng: 'torch' });
      expect(pixelDiff(numpy.images[0]!.pixels, torch.images[0]!.pixels).mean).toBeGreaterThan(1);
    });
  });

  describe('seed variation', () => {
    it('strength 0 is the plain seed and strength 1 is the variation seed', async () => {
      const plain = await pipeline.generate(catRequest);
      const none = await pipeline.generate({ ...catRequest, variation: { seed: 7, strength: 0 } });
      const full = await pipeline.generate({ ...catRequest, variation: { seed: 7, strength: 1 } });
      const other = await pipeline.generate({ ...catRequest, seed: 7 });
      expect(none.images[0]!.pixels).toEqual(plain.images[0]!.pixels);
      expect(pixelDiff(full.images[0]!.pixels, other.images[0]!.pixels).max).toBeLessThanOrEqual(1);
    });

    it('a small strength moves the image a little, a larger one further', async () => {
      const plain = (await pipeline.generate(catRequest)).images[0]!.pixels;
      const slight = (await pipeline.generate({ ...catRequest, variation: { seed: 7, strength: 0.1 } }))
        .images[0]!;
      const strong = (await pipeline.generate({ ...catRequest, variation: { seed: 7, strength: 0.7 } }))
        .images[0]!;
      const slightDiff = pixelDiff(slight.pixels, plain).mean;
      expect(slightDiff).toBeGreaterThan(0);
      expect(slightDiff).toBeLessThan(pixelDiff(strong.pixels, plain).mean);
      expect(slight.seed).toBe(catRequest.seed);
    });
  });

  describe.skipIf(!tinySdGolden.available)('img2img', () => {
    const init = join(tinySdGolden.path, 'cat-pndm-0.png');

    // tiny-sd's encoder is the diffusers export, which samples its latents inside the graph (as the
    // reference does), so two runs of the same request differ a little; strengths differ far more.
    it('starts from an image, and the strength sets how much of the schedule runs', async () => {
      const { width: _width, height: _height, ...sizeless } = catRequest;
      const run = (strength: number) => pipeline.generate({ ...sizeless, init: { image: init, strength } });
      const [light, half, again, heavy] = await Promise.all([run(0.1), run(0.5), run(0.5), run(1)]);
      const image = half.images[0]!;
      expect([image.width, image.height]).toEqual([64, 64]);
      expect(pixelSpread(image.pixels)).toBeGreaterThan(1);
      expect(half.timings.stages.vaeEncoder).toBeGreaterThan(0);
      // k = min(floor(10 * s) + steps_offset, 10) of 10 PNDM steps: 2, 6 and 10 UNet calls.
      expect([light.unetCalls, half.unetCalls, heavy.unetCalls]).toEqual([2, 6, 10]);
      const sameRequest = pixelDiff(again.images[0]!.pixels, image.pixels).mean;
      const otherStrengths = pixelDiff(light.images[0]!.pixels, heavy.images[0]!.pixels).mean;
      expect(otherStrengths).toBeGreaterThan(2 * sameRequest);
    });

    it('rounds the init image down to multiples of 64, or resizes it to the requested size', async () => {
      const odd = await sharp(init).resize(100, 70).png().toBuffer();
      const { width: _width, height: _height, ...sizeless } = catRequest;
      const rounded = await pipeline.generate({ ...sizeless, init: { image: odd, strength: 0.5 } });
      expect([rounded.images[0]!.width, rounded.images[0]!.height]).toEqual([64, 64]);
      const wide = await pipeline.generate({
        ...catRequest,
        width: 128,
        height: 64,
        init: { image: odd, strength: 0.5 },
      });
      expect([wide.images[0]!.width, wide.images[0]!.height]).toEqual([128, 64]);
      expect(wide.images[0]!.pixels.length).toBe(128 * 64 * 3);
    });
  });

  describe('guidance', () => {
    it('guidance <= 1 runs one UNet row per image instead of two', async () => {
      const guided = await pipeline.generate({ ...catRequest, count: 2 });
      const unguided = await pipeline.generate({ ...catRequest, count: 2, guidance: 1 });
      expect(guided.unetCalls).toBe(11);
      expect(guided.unetBatchRows).toBe(11 * 4);
      expect(unguided.unetCalls).toBe(11);
      expect(unguided.unetBatchRows).toBe(11 * 2);
    });

    describe('skipping the unconditional pass', () => {
      let model: StableDiffusionModel;
      beforeAll(async () => {
        model = await loadTinySdModel({ safetyChecker: false });
      });
      afterAll(async () => {
        await model.release();
      });

      it('gives the same latents at guidance 1 as computing both passes', async () => {
        const positive = model.tokenizer.encode(catRequest.prompt).inputIds;
        const negative = model.tokenizer.encode('').inputIds;
        const run = async (withUnconditional: boolean) => {
          const embeddings = await encodeText(
            model.textEncoder,
            positive,
            withUnconditional ? negative : undefined,
          );
          const scheduler = createScheduler('pndm', model.schedulerConfig);
          scheduler.setTimesteps(10);
          const generator = createNoiseGenerator('numpy', 42);
          return denoise({
            unet: model.unet.model,
            signature: model.unet.signature,
            images: [{ scheduler, generator, latents: generator.randn(4 * 8 * 8) }],
            timesteps: scheduler.timesteps,
            latentHeight: 8,
            latentWidth: 8,
            embeddings,
            guidance: 1,
          });
        };
        const both = await run(true);
        const skipped = await run(false);
        expect(both.unetBatchRows).toBe(22);
        expect(skipped.unetBatchRows).toBe(11);
        const a = both.latents[0]!;
        const b = skipped.latents[0]!;
        // u + 1 * (c - u) is c up to float32 rounding.
        for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 4);
      });
    });
  });

  describe('progress and cancellation', () => {
    it('calls back once per UNet call with the step, the total and the latents', async () => {
      const calls: [number, number, readonly number[]][] = [];
      const result = await pipeline.generate(
        { ...catRequest, count: 2 },
        {
          onStep: (step, total, latents) => {
            calls.push([step, total, latents.dims]);
          },
        },
      );
      expect(calls).toHaveLength(result.unetCalls);
      expect(calls.map(([step]) => step)).toEqual(Array.from({ length: 11 }, (_, index) => index + 1));
      expect(calls.every(([, total, dims]) => total === 11 && dims.join() === '2,4,8,8')).toBe(true);
      expect(result.timings.unetStepMs).toHaveLength(11);
    });

    it('stops within one step of the signal and fails with CANCELLED', async () => {
      const controller = new AbortController();
      const steps: number[] = [];
      const run = pipeline.generate(catRequest, {
        signal: controller.signal,
        onStep: (step) => {
          steps.push(step);
          if (step === 3) controller.abort('user pressed cancel');
        },
      });
      await expect(run).rejects.toMatchObject({
        code: 'CANCELLED',
        message: 'generation cancelled after 3 of 11 steps: user pressed cancel',
      });
      expect(steps).toEqual([1, 2, 3]);
    });

    it('does not start a job whose signal is already aborted', async () => {
      const steps: number[] = [];
      const error: unknown = await pipeline
        .generate(catRequest, { signal: AbortSignal.abort(), onStep: (step) => steps.push(step) })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SdbotError);
      expect((error as SdbotError).code).toBe('CANCELLED');
      expect(steps).toEqual([]);
    });
  });
});
