/**
 * An export whose UNet fixes the length of `encoder_hidden_states` cannot take A1111's longer
 * conditioning: the worker gives it exactly the chunks that length holds, cutting (and counting)
 * the rest, or padding a short prompt with empty chunks. The UNet here is a stand-in with the
 * fixed input (it returns its sample), the other parts are tiny-sd's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel } from '../helpers/onnx-builder.js';
import { catRequest, tinySd, tinySdWithPart } from '../helpers/tiny-sd.js';
import { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';

/** tiny-sd as symlinks, with a UNet whose encoder_hidden_states is `[batch, sequence, 32]`. */
function withFixedSequence(root: string, sequence: number): string {
  return tinySdWithPart(
    join(root, `fixed-${sequence}`),
    'unet',
    buildOnnxModel(
      [
        { name: 'sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] },
        { name: 'timestep', type: 'float32', shape: ['batch'] },
        { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', sequence, 32] },
      ],
      [{ name: 'out_sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] }],
      [{ op: 'Identity', inputs: ['sample'], outputs: ['out_sample'] }],
    ),
  );
}

const LONG = Array.from({ length: 30 }, (_, index) => `tower${index} by the sea`).join(', ');

describe.skipIf(!tinySd.available)(`a UNet with a fixed sequence length${tinySd.skipNote}`, () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sdbot-fixed-sequence-'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  const logLines: string[] = [];
  const logger = createLogger({
    name: 'worker',
    level: 'warn',
    destination: { write: (line: string) => logLines.push(line) },
  });
  const load = (directory: string) =>
    StableDiffusionPipeline.load(directory, {
      provider: 'cpu',
      intraOpThreads: 1,
      graphOptimization: 'all',
      safetyChecker: false,
      logger,
    });

  it('of 77: a long A1111 prompt is cut to one chunk and the cut is counted', async () => {
    const pipeline = await load(withFixedSequence(root, 77));
    expect(logLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ msg: 'prompt:chunks-limited', model: 'fixed-77', chunks: 1 }),
    );
    try {
      const result = await pipeline.generate({ ...catRequest, prompt: LONG, steps: 2, syntax: 'a1111' });
      expect(result.promptChunkLimit).toBe(1);
      expect(result.truncatedTokens).toBeGreaterThan(75);
      const short = await pipeline.generate({ ...catRequest, steps: 2, syntax: 'a1111' });
      expect(short.truncatedTokens).toBe(0);
    } finally {
      await pipeline.release();
    }
  });

  it('of 154: a one-chunk prompt is padded to two chunks', async () => {
    const pipeline = await load(withFixedSequence(root, 154));
    try {
      const result = await pipeline.generate({ ...catRequest, steps: 2, syntax: 'plain' });
      expect(result.images).toHaveLength(1);
      expect(result.promptChunkLimit).toBeUndefined();
    } finally {
      await pipeline.release();
    }
  });
});
