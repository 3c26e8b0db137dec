import { SdbotError } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aroundRuns } from '../../worker/src/diffusion/backend/around-runs.js';
import type { InferenceModel } from '../../worker/src/diffusion/backend/types.js';
import type { StableDiffusionModel } from '../../worker/src/diffusion/model.js';
import { createNoiseGenerator } from '../../worker/src/diffusion/noise.js';
import type { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { createScheduler } from '../../worker/src/diffusion/schedulers/index.js';
import { denoise, unetRowsPerRun } from '../../worker/src/diffusion/stages/denoise.js';
import { encodeText } from '../../worker/src/diffusion/stages/text-encoder.js';
import { catRequest, loadTinySd, loadTinySdModel, tinySd } from '../helpers/tiny-sd.js';

describe('UNet rows per run (SDBOT_UNET_MAX_ROWS)', () => {
  it('auto is one row at a time on the CPU and the whole batch on a GPU', () => {
    expect(unetRowsPerRun(0, 'cpu')).toBe(1);
    expect(unetRowsPerRun(0, 'webgpu')).toBe(Number.POSITIVE_INFINITY);
    expect(unetRowsPerRun(0, 'cuda')).toBe(Number.POSITIVE_INFINITY);
    expect(unetRowsPerRun(3, 'cpu')).toBe(3);
    expect(unetRowsPerRun(1, 'cuda')).toBe(1);
  });

  it('refuses a count of rows that is not a whole number, naming the setting', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => unetRowsPerRun(bad, 'cpu')).toThrow(/unetMaxRows/);
    }
  });
});

describe.skipIf(!tinySd.available)(`UNet rows per run on tiny-sd${tinySd.skipNote}`, () => {
  let model: StableDiffusionModel;
  beforeAll(async () => {
    model = await loadTinySdModel({ safetyChecker: false });
  });
  afterAll(async () => {
    await model.release();
  });

  /** The real UNet, with the batch size of every run it is asked for written down. */
  function recordingUnet(runs: number[], onRun?: () => void): InferenceModel {
    return aroundRuns(model.unet.model, (run, feeds) => {
      runs.push(feeds.sample?.dims[0] ?? 0);
      onRun?.();
      return run();
    });
  }

  /** `seeds.length` images with guidance, 4 PNDM steps, in runs of `rowsPerRun` rows (all if absent). */
  async function denoiseImages(
    seeds: readonly number[],
    {
      rowsPerRun,
      runs,
      onRun,
      signal,
    }: { rowsPerRun?: number; runs: number[]; onRun?: () => void; signal?: AbortSignal },
  ) {
    const embeddings = await encodeText(
      model.textEncoder,
      model.tokenizer.encode(catRequest.prompt).inputIds,
      model.tokenizer.encode('').inputIds,
    );
    const images = seeds.map((seed) => {
      const scheduler = createScheduler('pndm', model.schedulerConfig);
      scheduler.setTimesteps(4);
      const generator = createNoiseGenerator('numpy', seed);
      return { scheduler, generator, latents: generator.randn(4 * 8 * 8) };
    });
    return denoise({
      unet: recordingUnet(runs, onRun),
      signature: model.unet.signature,
      images,
      timesteps: images[0]!.scheduler.timesteps,
      latentHeight: 8,
      latentWidth: 8,
      embeddings,
      guidance: 7.5,
      rowsPerRun,
      signal,
    });
  }

  it('runs a step in runs of at most the rows asked for, with the same latents bit for bit', async () => {
    const seeds = [42, 43, 44];
    const wholeRuns: number[] = [];
    const whole = await denoiseImages(seeds, { runs: wholeRuns });
    const steps = whole.unetStepMs.length;
    expect(wholeRuns).toEqual(Array.from({ length: steps }, () => 6));
    for (const [rowsPerRun, perStep] of [
      [1, [1, 1, 1, 1, 1, 1]],
      [2, [2, 2, 2]],
      [4, [4, 2]],
      [6, [6]],
    ] as const) {
      const runs: number[] = [];
      const split = await denoiseImages(seeds, { rowsPerRun, runs });
      expect(runs).toEqual(Array.from({ length: steps }, () => perStep).flat());
      // The same evaluations and rows, however many runs they took.
      expect([split.unetCalls, split.unetBatchRows]).toEqual([whole.unetCalls, whole.unetBatchRows]);
      split.latents.forEach((latents, image) => {
        expect(latents).toEqual(whole.latents[image]);
      });
    }
  });

  it('stops between the runs of a step once the job is cancelled', async () => {
    const controller = new AbortController();
    const runs: number[] = [];
    const onRun = () => {
      if (runs.length === 2) controller.abort('stop');
    };
    const run = denoiseImages([1, 2], { rowsPerRun: 1, runs, onRun, signal: controller.signal });
    await expect(run).rejects.toThrow(SdbotError);
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    // Four rows a step in runs of one: the step's third run is never made.
    expect(runs).toHaveLength(2);
  });
});

describe.skipIf(!tinySd.available)(`a CPU pipeline's default rows per run${tinySd.skipNote}`, () => {
  let auto: StableDiffusionPipeline;
  let whole: StableDiffusionPipeline;
  beforeAll(async () => {
    auto = await loadTinySd();
    whole = await loadTinySd({ unetMaxRows: 8 });
  });
  afterAll(async () => {
    await Promise.all([auto.release(), whole.release()]);
  });

  it('runs a 2x2 grid one row at a time, and makes the same images', async () => {
    const request = { ...catRequest, count: 4, steps: 4 };
    const split = await auto.generate(request);
    const together = await whole.generate(request);
    expect(split.unetRowsPerRun).toBe(1);
    expect(together.unetRowsPerRun).toBe(8);
    expect(split.images.map((image) => image.pixels)).toEqual(together.images.map((image) => image.pixels));
  });

  it('refuses a bad unetMaxRows before loading anything', async () => {
    await expect(loadTinySd({ unetMaxRows: -2 })).rejects.toThrow(/unetMaxRows/);
  });
});
