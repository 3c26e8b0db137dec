import { join } from 'node:path';
import { SCHEDULER_NAMES } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { pixelDiff, pixelSpread } from '../helpers/images.js';
import { catRequest, loadTinySd, tinySd, tinySdGolden } from '../helpers/tiny-sd.js';

const STEPS = 6;

describe.skipIf(!tinySd.available)(`every scheduler end to end on tiny-sd${tinySd.skipNote}`, () => {
  let pipeline: StableDiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadTinySd({ safetyChecker: false });
  });
  afterAll(async () => {
    await pipeline.release();
  });

  it.each(SCHEDULER_NAMES)('%s produces a finite, non-constant image', async (scheduler) => {
    let finalLatents: Float32Array = new Float32Array();
    const result = await pipeline.generate(
      { ...catRequest, scheduler, steps: STEPS },
      {
        onStep: (step, total, latents) => {
          if (step === total) finalLatents = latents.data;
        },
      },
    );
    expect(result.unetCalls).toBeGreaterThanOrEqual(STEPS);
    expect(finalLatents.length).toBe(4 * 8 * 8);
    expect(finalLatents.every(Number.isFinite)).toBe(true);
    expect(pixelSpread(result.images[0]!.pixels)).toBeGreaterThan(1);
  });

  it.each(['euler_a', 'lcm'] as const)(
    '%s, which adds noise while stepping, is reproducible from the seed',
    async (scheduler) => {
      const request = { ...catRequest, scheduler, steps: STEPS, count: 2 };
      const [first, again, alone] = await Promise.all([
        pipeline.generate(request),
        pipeline.generate(request),
        pipeline.generate({ ...request, count: 1, seed: catRequest.seed + 1 }),
      ]);
      expect(again.images[0]!.pixels).toEqual(first.images[0]!.pixels);
      expect(alone.images[0]!.pixels).toEqual(first.images[1]!.pixels);
      expect(pixelDiff(first.images[0]!.pixels, first.images[1]!.pixels).mean).toBeGreaterThan(1);
    },
  );

  it.skipIf(!tinySdGolden.available).each(['euler', 'dpmpp_2m_karras'] as const)(
    '%s noises an init image by sigma for img2img',
    async (scheduler) => {
      const { width: _width, height: _height, ...sizeless } = catRequest;
      const result = await pipeline.generate({
        ...sizeless,
        scheduler,
        steps: STEPS,
        init: { image: join(tinySdGolden.path, 'cat-pndm-0.png'), strength: 0.5 },
      });
      expect(result.unetCalls).toBeGreaterThan(0);
      expect(result.unetCalls).toBeLessThan(STEPS + 1);
      expect(pixelSpread(result.images[0]!.pixels)).toBeGreaterThan(1);
    },
  );
});
