import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { checkSafety } from '../../worker/src/diffusion/stages/safety.js';
import { pixelDiff, readRgb } from '../helpers/images.js';
import { goldenCases, loadTinySd, loadTinySdModel, tinySd, tinySdGolden } from '../helpers/tiny-sd.js';

const available = tinySd.available && tinySdGolden.available;

describe.skipIf(!available)(
  `pipeline against the reference goldens${tinySd.skipNote}${tinySdGolden.skipNote}`,
  () => {
    let pipeline: StableDiffusionPipeline;
    beforeAll(async () => {
      pipeline = await loadTinySd();
    });
    afterAll(async () => {
      await pipeline.release();
    });

    // Only the cases that exist at collection time can be named; an absent folder yields none.
    const cases = available ? goldenCases() : [];
    it.each(cases.map((golden) => [golden.name, golden] as const))(
      '%s reproduces the reference within 2 levels max, 0.1 mean',
      async (_name, golden) => {
        const result = await pipeline.generate({
          prompt: golden.prompt,
          negativePrompt: golden.negative,
          seed: golden.seed,
          steps: golden.steps,
          guidance: golden.guidance,
          width: golden.width,
          height: golden.height,
          scheduler: golden.scheduler,
          rng: golden.rng,
          count: golden.n,
        });
        expect(result.images.map((image) => image.nsfw)).toEqual(golden.nsfw);
        for (const [index, file] of golden.images.entries()) {
          const expected = await readRgb(join(tinySdGolden.path, file));
          const image = result.images[index]!;
          expect([image.width, image.height]).toEqual([expected.width, expected.height]);
          const diff = pixelDiff(image.pixels, expected.pixels);
          expect(diff.max, `${file} max abs diff`).toBeLessThanOrEqual(2);
          expect(diff.mean, `${file} mean abs diff`).toBeLessThanOrEqual(0.1);
        }
      },
    );

    it('the safety checker flags the red probe and passes the grey one', async () => {
      const probes = JSON.parse(
        readFileSync(join(tinySdGolden.path, 'safety-probes.json'), 'utf8'),
      ) as Record<string, boolean>;
      const names = Object.keys(probes);
      const images = await Promise.all(
        names.map(async (name) => {
          const { pixels, width, height } = await readRgb(join(tinySdGolden.path, `probe-${name}.png`));
          return { pixels, width, height, values: Float32Array.from(pixels, (value) => value / 255) };
        }),
      );
      // The model directory's own safety checker and preprocessing config, as the pipeline loads them.
      const model = await loadTinySdModel({ safetyChecker: true });
      try {
        const checker = model.safetyChecker!;
        const flags = await checkSafety(checker.model, checker.imageConfig, images);
        expect(Object.fromEntries(names.map((name, index) => [name, flags[index]]))).toEqual(probes);
        expect(probes).toEqual({ red: true, grey: false });
      } finally {
        await model.release();
      }
    });
  },
);
