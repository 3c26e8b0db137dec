/**
 * What the worker does with an image its safety checker flags: by default the placeholder, never the
 * pixels; for a job that allows flagged images (a server that opted in, an age-restricted channel),
 * the picture itself, marked. The model is tiny-sd with a safety checker that flags everything, so
 * the allowed image can be compared with the reference's golden pixels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type GenerationJob } from '@sdbot/shared';
import { PipelineGenerator } from '@sdbot/worker';
import { filteredPlaceholder } from '../../worker/src/safety/placeholder.js';
import { buildOnnxModel } from '../helpers/onnx-builder.js';
import { exampleJob } from '../helpers/messages.js';
import { catRequest, tinySd, tinySdGolden, tinySdWithPart } from '../helpers/tiny-sd.js';
import { testConfig } from '../helpers/workers.js';

/** A safety checker graph that flags every image: has_nsfw_concepts = bool(max(shape(clip_input))). */
function flagEverythingChecker(): Uint8Array {
  return buildOnnxModel(
    [
      { name: 'clip_input', type: 'float32', shape: ['b', 3, 224, 224] },
      { name: 'images', type: 'float32', shape: ['b', 'h', 'w', 3] },
    ],
    [{ name: 'has_nsfw_concepts', type: 'bool', shape: [1] }],
    [
      { op: 'Shape', inputs: ['clip_input'], outputs: ['shape'] },
      { op: 'ReduceMax', inputs: ['shape'], outputs: ['largest'], intAttributes: { keepdims: 1 } },
      { op: 'Cast', inputs: ['largest'], outputs: ['has_nsfw_concepts'], intAttributes: { to: 9 } },
    ],
  );
}

async function rgb(png: Uint8Array): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

describe.skipIf(!tinySd.available || !tinySdGolden.available)(
  `flagged images in the worker${tinySd.skipNote}${tinySdGolden.skipNote}`,
  () => {
    let scratch: string;
    let generator: PipelineGenerator;

    beforeAll(async () => {
      scratch = mkdtempSync(join(tmpdir(), 'sdbot-nsfw-worker-'));
      const model = tinySdWithPart(
        join(scratch, 'tiny-sd-flagging'),
        'safety_checker',
        flagEverythingChecker(),
      );
      const config = testConfig('nats://127.0.0.1:4222', { SDBOT_THREADS: '1' });
      generator = await PipelineGenerator.load(
        [model],
        config,
        createLogger({ name: 'test', level: 'silent' }),
      );
    });

    afterAll(async () => {
      await generator.close();
      rmSync(scratch, { recursive: true, force: true });
    });

    function catJob(nsfw?: 'allow' | 'replace'): GenerationJob {
      const base = exampleJob({
        ...catRequest,
        count: 1,
        model: generator.models[0]!.id,
        negativePrompt: '',
      });
      return (nsfw === undefined ? base : { ...base, nsfw }) as GenerationJob;
    }

    const hooks = { onStep: () => undefined, signal: new AbortController().signal };

    it('replaces a flagged image with the placeholder by default', async () => {
      const output = await generator.generate({ job: catJob() }, hooks);
      const image = output.images[0]!;
      expect(image.nsfw).toBe(true);
      expect(await rgb(image.png)).toEqual(await rgb(await filteredPlaceholder(64, 64)));
    });

    it('returns the picture itself, marked, when the job allows flagged images', async () => {
      const output = await generator.generate({ job: catJob('allow') }, hooks);
      const image = output.images[0]!;
      expect(image.nsfw).toBe(true);
      const golden = await rgb(await sharp(join(tinySdGolden.path, 'cat-pndm-0.png')).png().toBuffer());
      expect(await rgb(image.png)).toEqual(golden);
    });
  },
);
