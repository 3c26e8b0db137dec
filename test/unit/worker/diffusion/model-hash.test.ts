import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashModelDirectory } from '../../../../worker/src/diffusion/model-hash.js';

const MIB = 1024 * 1024;

describe('model content hash', () => {
  let directory: string;
  const weights = () => join(directory, 'unet', 'weights.pb');

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'sdbot-hash-'));
    mkdirSync(join(directory, 'unet'));
    writeFileSync(join(directory, 'model_index.json'), '{"_class_name":"OnnxStableDiffusionPipeline"}');
    writeFileSync(join(directory, 'unet', 'model.onnx'), 'graph');
    writeFileSync(weights(), Buffer.alloc(3 * MIB, 7));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('is 16 hex digits and ignores modification times', async () => {
    const before = await hashModelDirectory(directory);
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    utimesSync(weights(), new Date(2000, 1, 1), new Date(2000, 1, 1));
    expect(await hashModelDirectory(directory)).toBe(before);
  });

  it('changes with the first or last MiB of a weight file, its size, or a config', async () => {
    const original = await hashModelDirectory(directory);
    const changed = async (edit: (bytes: Buffer) => Buffer) => {
      const bytes = Buffer.alloc(3 * MIB, 7);
      writeFileSync(weights(), edit(bytes));
      return hashModelDirectory(directory);
    };
    expect(await changed((bytes) => bytes.fill(1, 0, 1))).not.toBe(original);
    expect(await changed((bytes) => bytes.fill(1, bytes.length - 1))).not.toBe(original);
    expect(await changed((bytes) => bytes.subarray(0, bytes.length - 1))).not.toBe(original);
    // The middle MiB is deliberately not read: that is the price of hashing a 4 GB model in O(1).
    expect(await changed((bytes) => bytes.fill(1, MIB + 10, MIB + 11))).toBe(original);
    writeFileSync(weights(), Buffer.alloc(3 * MIB, 7));
    writeFileSync(join(directory, 'model_index.json'), '{"_class_name":"Other"}');
    expect(await hashModelDirectory(directory)).not.toBe(original);
  });
});
