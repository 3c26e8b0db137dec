/**
 * Warm-up (SDBOT_WARMUP): before a worker takes jobs, every session runs once as a job at the base
 * size would, so the first job pays no first-run costs and, without the CPU arena, the base size
 * keeps the memory plan onnxruntime gives to the first square size a session runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type GenerationJob } from '@sdbot/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InferenceThread } from '../../worker/src/diffusion/backend/inference-thread-host.js';
import type { Tensor } from '../../worker/src/diffusion/backend/tensor.js';
import type { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { PipelineGenerator } from '../../worker/src/service/pipeline-generator.js';
import { exampleJob } from '../helpers/messages.js';
import { buildOnnxModel } from '../helpers/onnx-builder.js';
import { testConfig } from '../helpers/workers.js';
import { catRequest, loadTinySd, tinySd, tinySdWithPart } from '../helpers/tiny-sd.js';

/** Each session run of the inference threads: the model part and its feeds' dimensions. */
interface RecordedRun {
  part: string;
  dims: Record<string, readonly number[]>;
}

/** Records every run the inference threads are asked for; the runs themselves go ahead unchanged. */
function recordRuns(): RecordedRun[] {
  const runs: RecordedRun[] = [];
  const parts = new Map<number, string>();
  // Read without binding: each call below passes its own thread as `this`.
  const request = Reflect.get(InferenceThread.prototype, 'request');
  vi.spyOn(InferenceThread.prototype, 'request').mockImplementation(async function (
    this: InferenceThread,
    message,
  ) {
    if (message.kind === 'run') {
      const feeds = message.feeds as Record<string, Tensor>;
      runs.push({
        part: parts.get(message.session) ?? 'unknown',
        dims: Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, tensor.dims])),
      });
    }
    const reply = await request.call(this, message);
    if (message.kind === 'open') {
      // The part is the folder of the file: unet/model.onnx.
      parts.set((reply as { session: number }).session, message.file.split('/').at(-2) ?? message.file);
    }
    return reply;
  });
  return runs;
}

describe.skipIf(!tinySd.available)(`warm-up on tiny-sd${tinySd.skipNote}`, () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('runs every part once at 512x512, with the shapes of a job on the CPU', async () => {
    const runs = recordRuns();
    const pipeline = await loadTinySd();
    try {
      expect(await pipeline.warmUp()).toEqual({ side: 512, count: 1 });
      const of = (part: string, feed: string) =>
        runs.filter((run) => run.part === part).map((run) => run.dims[feed]);
      // One guided step: two rows, one run each on the CPU, of 512 / 8 = 64x64 latents.
      expect(of('unet', 'sample')).toEqual([
        [1, 4, 64, 64],
        [1, 4, 64, 64],
      ]);
      expect(of('vae_decoder', 'latent_sample')).toEqual([[1, 4, 64, 64]]);
      expect(of('vae_encoder', 'sample')).toEqual([[1, 3, 512, 512]]);
      expect(of('safety_checker', 'images')).toEqual([[1, 512, 512, 3]]);
      expect(of('text_encoder', 'input_ids').length).toBeGreaterThan(0);
    } finally {
      await pipeline.release();
    }
  });

  it('warms a whole grid in one run where a run takes every row (a GPU), at the size the cap allows', async () => {
    const runs = recordRuns();
    // 300x300 pixels at most: the largest square of whole 64s is 256x256.
    const pipeline = await loadTinySd({ unetMaxRows: 8, maxPixels: 300 * 300, safetyChecker: false });
    try {
      expect(await pipeline.warmUp()).toEqual({ side: 256, count: 4 });
      expect(runs.filter((run) => run.part === 'unet').map((run) => run.dims.sample)).toEqual([
        [8, 4, 32, 32],
      ]);
      expect(runs.filter((run) => run.part === 'vae_decoder')).toHaveLength(4);
    } finally {
      await pipeline.release();
    }
  });

  it('warms at the smallest size when the cap allows no more', async () => {
    const pipeline = await loadTinySd({ maxPixels: 70 * 70, safetyChecker: false });
    try {
      expect(await pipeline.warmUp()).toEqual({ side: 64, count: 1 });
    } finally {
      await pipeline.release();
    }
  });

  describe('what a warmed pipeline makes', () => {
    let warmed: StableDiffusionPipeline;
    let fresh: StableDiffusionPipeline;
    beforeAll(async () => {
      [warmed, fresh] = await Promise.all([loadTinySd(), loadTinySd()]);
      await warmed.warmUp();
    });
    afterAll(async () => {
      await Promise.all([warmed.release(), fresh.release()]);
    });

    it('is the same image, bit for bit, as a pipeline that was not warmed', async () => {
      for (const request of [catRequest, { ...catRequest, width: 128, height: 64, count: 2 }]) {
        const [a, b] = await Promise.all([warmed.generate(request), fresh.generate(request)]);
        expect(a.images.map((image) => Buffer.from(image.pixels))).toEqual(
          b.images.map((image) => Buffer.from(image.pixels)),
        );
      }
    });
  });

  /** Loads `model` in a worker's generator: its log lines, and `job`'s images if given. */
  async function loadWorker(env: Record<string, string>, model = tinySd.path, job?: GenerationJob) {
    const lines: string[] = [];
    const logger = createLogger({
      name: 'test',
      destination: { write: (line: string) => lines.push(line) },
    });
    const config = testConfig('nats://127.0.0.1:4222', { SDBOT_THREADS: '1', ...env });
    const generator = await PipelineGenerator.load([model], config, logger);
    try {
      const hooks = { signal: new AbortController().signal, onStep: () => undefined };
      const images = job === undefined ? [] : (await generator.generate({ job }, hooks)).images;
      return { log: lines.map((line) => JSON.parse(line) as Record<string, unknown>), images };
    } finally {
      await generator.close();
    }
  }

  it('a worker warms each model as it loads (model:warmed), unless SDBOT_WARMUP is off', async () => {
    const load = async (env: Record<string, string>) => (await loadWorker(env)).log;
    // A small cap keeps the test quick: the warm-up then runs at 128x128.
    const warmed = (await load({ SDBOT_MAX_PIXELS: String(128 * 128) })).filter(
      (entry) => entry.msg === 'model:warmed',
    );
    expect(warmed).toHaveLength(1);
    expect(warmed[0]).toMatchObject({ model: 'tiny-sd', size: '128x128', images: 1 });
    expect(typeof warmed[0]?.ms).toBe('number');
    const off = await load({ SDBOT_MAX_PIXELS: String(128 * 128), SDBOT_WARMUP: 'off' });
    expect(off.some((entry) => entry.msg === 'model:loaded')).toBe(true);
    expect(off.some((entry) => entry.msg === 'model:warmed')).toBe(false);
  });

  it('a model whose warm-up fails still serves the sizes it can run, and the log says why', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'sdbot-warmup-'));
    try {
      // tiny-sd with a safety checker that takes 64x64 images only: the warm-up (at 128x128 under
      // this cap, to be quick) fails.
      const model = tinySdWithPart(join(scratch, 'tiny-sd-64'), 'safety_checker', checkerOf64x64Images());
      const job = exampleJob({ ...catRequest, count: 1, model: 'tiny-sd-64', negativePrompt: '' });
      const cap = { SDBOT_MAX_PIXELS: String(128 * 128) };
      const { log, images } = await loadWorker(cap, model, job as GenerationJob);
      const failed = log.filter((entry) => entry.msg === 'model:warm-up-failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ model: 'tiny-sd-64', next: 'serving without it' });
      expect(JSON.stringify(failed[0]?.err)).toContain('safety_checker');
      expect(log.some((entry) => entry.msg === 'model:warmed')).toBe(false);
      expect(images.map((image) => [image.width, image.height, image.nsfw])).toEqual([[64, 64, false]]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

/** A safety checker of one image at a time that flags nothing and takes only 64x64 images. */
function checkerOf64x64Images(): Uint8Array {
  return buildOnnxModel(
    [
      { name: 'clip_input', type: 'float32', shape: ['b', 3, 224, 224] },
      { name: 'images', type: 'float32', shape: ['b', 64, 64, 3] },
    ],
    [{ name: 'has_nsfw_concepts', type: 'bool', shape: [1] }],
    [
      // One image: the smallest of its dimensions (3) is true as a boolean, and not flagged.
      { op: 'Shape', inputs: ['images'], outputs: ['shape'] },
      { op: 'ReduceMin', inputs: ['shape'], outputs: ['smallest'], intAttributes: { keepdims: 1 } },
      { op: 'Cast', inputs: ['smallest'], outputs: ['nonzero'], intAttributes: { to: 9 } },
      { op: 'Not', inputs: ['nonzero'], outputs: ['has_nsfw_concepts'] },
    ],
  );
}
