/**
 * Upscalers of any input names and of a fixed or free input size, built by hand as a nearest-
 * neighbour 2x (Concat of four copies, then DepthToSpace), whose right answer is known exactly:
 * tiling, padding a fixed-size model's edge tiles and blending must not change a pixel.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SdbotError } from '@sdbot/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_OVERLAP, DEFAULT_TILE, Upscaler } from '../../worker/src/upscale/upscaler.js';
import { buildOnnxModel } from '../helpers/onnx-builder.js';
import { photoLikeImage } from '../helpers/synthetic-images.js';

const settings = { provider: 'cpu', intraOpThreads: 1, graphOptimization: 'all' } as const;
const directory = mkdtempSync(join(tmpdir(), 'sdbot-upscaler-shapes-'));
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function nearest2x(name: string, height: number | string, width: number | string): string {
  const out = (side: number | string) => (typeof side === 'number' ? side * 2 : `${side}_x2`);
  const file = join(directory, `${name}.onnx`);
  writeFileSync(
    file,
    buildOnnxModel(
      [{ name: 'pixels', type: 'float32', shape: [1, 3, height, width] }],
      [{ name: 'enlarged', type: 'float32', shape: [1, 3, out(height), out(width)] }],
      [
        {
          op: 'Concat',
          inputs: ['pixels', 'pixels', 'pixels', 'pixels'],
          outputs: ['stacked'],
          intAttributes: { axis: 1 },
        },
        { op: 'DepthToSpace', inputs: ['stacked'], outputs: ['enlarged'], intAttributes: { blocksize: 2 } },
      ],
    ),
  );
  return file;
}

function expectedNearest(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(rgb.length * 4);
  for (let y = 0; y < height * 2; y += 1) {
    for (let x = 0; x < width * 2; x += 1) {
      for (let channel = 0; channel < 3; channel += 1) {
        out[(y * width * 2 + x) * 3 + channel] = rgb[((y >> 1) * width + (x >> 1)) * 3 + channel] ?? 0;
      }
    }
  }
  return out;
}

describe('upscaler input shapes', () => {
  it('reads the names and the scale from a model with free height and width, and tiles it exactly', async () => {
    const upscaler = await Upscaler.load(nearest2x('free', 'height', 'width'), settings);
    try {
      expect(upscaler.info).toMatchObject({ id: 'free', scale: 2, input: 'pixels', output: 'enlarged' });
      expect(upscaler.info.fixedSide).toBeUndefined();
      const image = { rgb: photoLikeImage(300, 200, 'portrait', 4), width: 300, height: 200 };
      const tiled = await upscaler.upscale(image, { tile: 64, overlap: DEFAULT_OVERLAP / 2 });
      expect([tiled.width, tiled.height]).toEqual([600, 400]);
      expect(Buffer.from(tiled.rgb).equals(Buffer.from(expectedNearest(image.rgb, 300, 200)))).toBe(true);
    } finally {
      await upscaler.release();
    }
  });

  it('runs a fixed-size model in tiles of its size, padding tiles past the image edge', async () => {
    const upscaler = await Upscaler.load(nearest2x('fixed', 48, 48), settings);
    try {
      expect(upscaler.info.fixedSide).toBe(48);
      for (const [width, height] of [
        [130, 70],
        [20, 30],
      ] as const) {
        const image = { rgb: photoLikeImage(width, height, 'night', 9), width, height };
        const out = await upscaler.upscale(image, { tile: DEFAULT_TILE, overlap: DEFAULT_OVERLAP });
        expect([out.width, out.height]).toEqual([width * 2, height * 2]);
        expect(Buffer.from(out.rgb).equals(Buffer.from(expectedNearest(image.rgb, width, height)))).toBe(
          true,
        );
      }
    } finally {
      await upscaler.release();
    }
  });

  it('refuses a fixed input that is not square, naming the file', async () => {
    const file = nearest2x('oblong', 32, 48);
    await expect(Upscaler.load(file, settings)).rejects.toThrow(SdbotError);
    await expect(Upscaler.load(file, settings)).rejects.toThrow(/oblong\.onnx: takes a fixed 48x32 input/);
  });
});
