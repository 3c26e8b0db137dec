import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, SdbotError, ValidationError } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import type { PipelineRequest } from '../../worker/src/diffusion/request.js';
import { buildOnnxModel } from '../helpers/onnx-builder.js';
import { useTemporaryDirectory } from '../helpers/temporary-directory.js';
import { catRequest, loadTinySd, tinySd } from '../helpers/tiny-sd.js';

/**
 * A copy of tiny-sd made of symlinks, except `brokenPart`: a file there is left out, a folder
 * becomes a real one holding links to its files minus `missingFile` (for the test to damage).
 */
function modelCopy(root: string, name: string, brokenPart?: string, missingFile?: string): string {
  const directory = join(root, name);
  mkdirSync(directory);
  for (const entry of readdirSync(tinySd.path)) {
    if (entry !== brokenPart) {
      symlinkSync(join(tinySd.path, entry), join(directory, entry));
      continue;
    }
    if (missingFile === undefined) continue;
    mkdirSync(join(directory, entry));
    for (const file of readdirSync(join(tinySd.path, entry))) {
      if (file !== missingFile) symlinkSync(join(tinySd.path, entry, file), join(directory, entry, file));
    }
  }
  return directory;
}

async function failure(promise: Promise<unknown>): Promise<SdbotError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SdbotError);
  return error as SdbotError;
}

describe.skipIf(!tinySd.available)(`pipeline errors${tinySd.skipNote}`, () => {
  const models = useTemporaryDirectory('sdbot-models-');

  describe('bad requests', () => {
    let pipeline: StableDiffusionPipeline;
    beforeAll(async () => {
      pipeline = await loadTinySd();
    });
    afterAll(async () => {
      await pipeline.release();
    });

    it.each([
      [{ scheduler: 'karras' }, /^scheduler: must be one of pndm, ddim, .*\(got "karras"\)$/],
      [{ width: 100 }, /^width: must be a multiple of 64 in 64\.\.2048 \(got 100\)$/],
      [{ steps: 0 }, /^steps: must be an integer in 1\.\.150 \(got 0\)$/],
      [{ count: 5 }, /^count: must be an integer in 1\.\.4 \(got 5\)$/],
      [{ init: { image: 'x.png', strength: 2 } }, /^strength: must be a number in 0\.\.1 \(got 2\)$/],
    ])('refuses %o with a message naming the field', async (change, message) => {
      const error = await failure(pipeline.generate({ ...catRequest, ...change } as PipelineRequest));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.message).toMatch(message);
    });

    it('refuses an init image it cannot read, naming it', async () => {
      const path = join(models.path, 'not-an-image.png');
      writeFileSync(path, 'this is not a PNG');
      const error = await failure(pipeline.generate({ ...catRequest, init: { image: path, strength: 0.5 } }));
      expect(error.code).toBe('IMAGE_INVALID');
      expect(error.message).toBe(
        `init image ${path} cannot be read: Input file contains unsupported image format`,
      );
      const missing = await failure(
        pipeline.generate({
          ...catRequest,
          init: { image: join(models.path, 'nowhere.png'), strength: 0.5 },
        }),
      );
      expect(missing.message).toContain('nowhere.png cannot be read: Input file is missing');
    });
  });

  describe('broken model directories', () => {
    const load = (directory: string, safetyChecker = true) =>
      StableDiffusionPipeline.load(directory, {
        provider: 'cpu',
        intraOpThreads: 1,
        graphOptimization: 'all',
        safetyChecker,
      });

    it('names a missing part', async () => {
      const directory = modelCopy(models.path, 'no-decoder', 'vae_decoder', 'model.onnx');
      const error = await failure(load(directory));
      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toBe(
        `${directory}/vae_decoder/model.onnx is missing (every export has vae_decoder)`,
      );
    });

    it('names a model whose external weights are missing', async () => {
      const directory = modelCopy(models.path, 'no-weights', 'unet', 'weights.pb');
      const error = await failure(load(directory));
      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toMatch(
        new RegExp(`^${directory}/unet/model.onnx: cannot be loaded as an ONNX model`),
      );
    });

    it('names a corrupt ONNX file', async () => {
      const directory = modelCopy(models.path, 'corrupt', 'text_encoder', 'model.onnx');
      writeFileSync(join(directory, 'text_encoder', 'model.onnx'), 'garbage, not a protobuf');
      const error = await failure(load(directory));
      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toBe(
        `${directory}/text_encoder/model.onnx: cannot be loaded as an ONNX model (Protobuf parsing failed.)`,
      );
    });

    it('names a part whose inputs are not what the pipeline feeds', async () => {
      const directory = modelCopy(models.path, 'renamed-input', 'unet', 'model.onnx');
      writeFileSync(
        join(directory, 'unet', 'model.onnx'),
        buildOnnxModel(
          [
            { name: 'x', type: 'float32', shape: ['batch', 4, 'height', 'width'] },
            { name: 'timestep', type: 'float32', shape: ['batch'] },
            { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', 'sequence', 32] },
          ],
          [{ name: 'out_sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] }],
          [{ op: 'Identity', inputs: ['x'], outputs: ['out_sample'] }],
        ),
      );
      const error = await failure(load(directory));
      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toBe(
        `${directory}/unet/model.onnx: expected inputs sample (float32 or float16, rank 4), ` +
          'timestep (float32 or float16 or int64 or int32, rank 0 or 1), ' +
          'encoder_hidden_states (float32 or float16, rank 3); ' +
          'the model has x (float32, rank 4), timestep (float32, rank 1), encoder_hidden_states (float32, rank 3)',
      );
    });

    it('names a missing or malformed config', async () => {
      const noIndex = modelCopy(models.path, 'no-index', 'model_index.json');
      expect((await failure(load(noIndex))).message).toBe(
        `${noIndex}/model_index.json is missing or unreadable (the list of pipeline parts)`,
      );
      const badScheduler = modelCopy(models.path, 'bad-scheduler', 'scheduler', 'scheduler_config.json');
      writeFileSync(join(badScheduler, 'scheduler', 'scheduler_config.json'), '{"beta_start":');
      expect((await failure(load(badScheduler))).message).toBe(
        `${badScheduler}/scheduler/scheduler_config.json is not valid JSON (the noise schedule)`,
      );
      expect((await failure(load(join(models.path, 'nothing-here')))).message).toBe(
        `${join(models.path, 'nothing-here')} is not a model directory`,
      );
    });

    it('refuses an export without a safety checker unless the checker is turned off', async () => {
      const directory = modelCopy(models.path, 'no-safety', 'model_index.json');
      writeFileSync(
        join(directory, 'model_index.json'),
        JSON.stringify({
          _class_name: 'OnnxStableDiffusionPipeline',
          safety_checker: [null, null],
          vae_encoder: ['diffusers', 'OnnxRuntimeModel'],
        }),
      );
      const error = await failure(load(directory));
      expect(error.code).toBe('MODEL_INVALID');
      expect(error.message).toContain('has no safety_checker');
      const pipeline = await load(directory, false);
      try {
        expect(pipeline.info).toMatchObject({ name: 'no-safety', safetyChecker: false });
        const result = await pipeline.generate({ ...catRequest, steps: 1 });
        expect(result.images[0]!.nsfw).toBe(false);
        expect(result.timings.stages.safety).toBe(0);
      } finally {
        await pipeline.release();
      }
    });
  });

  it('falls back to cpu with a warning when the execution provider cannot start', async () => {
    // npm ci skips onnxruntime's CUDA download (.npmrc), so the cuda provider cannot load here.
    const lines = new PassThrough();
    let logged = '';
    lines.on('data', (chunk: Buffer) => (logged += chunk.toString()));
    const pipeline = await StableDiffusionPipeline.load(tinySd.path, {
      provider: 'cuda',
      intraOpThreads: 1,
      graphOptimization: 'basic',
      safetyChecker: false,
      logger: createLogger({ name: 'test', destination: lines }),
    });
    try {
      expect(pipeline.info.provider).toBe('cpu');
      const warnings = logged
        .trim()
        .split('\n')
        .map(
          (line) =>
            JSON.parse(line) as {
              level: string;
              msg: string;
              provider?: string;
              fallback?: string;
              file?: string;
            },
        )
        .filter((line) => line.level === 'warn');
      expect(warnings.length).toBeGreaterThanOrEqual(4);
      expect(warnings[0]).toMatchObject({
        provider: 'cuda',
        msg: 'provider:fallback',
        fallback: 'cpu',
      });
      const result = await pipeline.generate({ ...catRequest, steps: 1 });
      expect(result.images).toHaveLength(1);
    } finally {
      await pipeline.release();
    }
  });
});
