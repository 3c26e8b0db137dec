import { describe, expect, it } from 'vitest';
import { resizeBicubic } from '../../../../worker/src/diffusion/image/bicubic.js';
import { clipPreprocess } from '../../../../worker/src/diffusion/image/clip-preprocess.js';
import {
  decoderOutputToPixels,
  pixelsToEncoderInput,
} from '../../../../worker/src/diffusion/stages/pixels.js';

/** A deterministic RGB test pattern with edges and gradients. */
function pattern(width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++)
        pixels[(y * width + x) * 3 + c] = (x * 37 + y * 101 + c * 53 + x * y * 11) % 256;
    }
  }
  return pixels;
}

describe('Pillow-compatible bicubic resize', () => {
  // Expected bytes: numpy + Pillow 9.4, `Image.fromarray(pattern).resize((w, h), Image.BICUBIC)`.
  it('matches Pillow when enlarging (5x4 -> 11x7)', () => {
    const out = resizeBicubic({ pixels: pattern(5, 4), width: 5, height: 4, channels: 3 }, 11, 7);
    expect(Array.from(out.pixels)).toEqual([
      0, 42, 95, 0, 49, 102, 13, 66, 117, 31, 84, 138, 48, 99, 165, 64, 117, 191, 80, 143, 209, 97, 170, 224,
      123, 191, 242, 150, 206, 255, 162, 213, 255, 25, 76, 139, 32, 85, 148, 55, 108, 171, 80, 133, 181, 98,
      157, 156, 116, 169, 135, 139, 149, 147, 156, 124, 171, 142, 133, 196, 116, 156, 219, 104, 165, 227, 89,
      142, 203, 99, 152, 216, 125, 178, 251, 153, 207, 244, 174, 244, 140, 196, 249, 49, 231, 158, 54, 248,
      53, 91, 173, 46, 120, 64, 82, 146, 19, 94, 156, 176, 219, 125, 155, 208, 138, 106, 159, 169, 76, 130,
      181, 97, 160, 141, 131, 184, 109, 170, 151, 132, 200, 112, 162, 172, 123, 133, 122, 154, 84, 102, 168,
      63, 216, 251, 46, 173, 226, 59, 71, 124, 87, 2, 55, 117, 25, 78, 142, 65, 118, 168, 87, 144, 209, 109,
      170, 231, 141, 200, 162, 173, 227, 61, 188, 241, 18, 99, 146, 110, 94, 147, 126, 80, 133, 167, 81, 134,
      180, 121, 174, 126, 145, 198, 82, 95, 153, 106, 37, 99, 146, 53, 113, 146, 99, 153, 132, 118, 170, 128,
      26, 80, 154, 45, 98, 172, 88, 141, 221, 134, 187, 223, 184, 237, 117, 197, 250, 26, 106, 159, 39, 0, 53,
      89, 2, 55, 135, 51, 104, 178, 69, 122, 197,
    ]);
  });

  it('matches Pillow when shrinking (9x7 -> 4x3)', () => {
    const out = resizeBicubic({ pixels: pattern(9, 7), width: 9, height: 7, channels: 3 }, 4, 3);
    expect(Array.from(out.pixels)).toEqual([
      85, 143, 154, 139, 147, 153, 140, 143, 139, 126, 120, 103, 123, 142, 147, 105, 136, 133, 134, 107, 149,
      110, 106, 132, 154, 142, 132, 116, 133, 149, 134, 154, 136, 127, 115, 115,
    ]);
  });
});

describe('CLIP preprocessing', () => {
  const config = {
    shortestEdge: 224,
    cropHeight: 224,
    cropWidth: 224,
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
  } as const;

  it('normalizes a flat image per channel into CHW', () => {
    const pixels = new Uint8Array(64 * 64 * 3);
    for (let i = 0; i < pixels.length; i += 3) pixels.set([255, 0, 128], i);
    const out = new Float32Array(3 * 224 * 224);
    clipPreprocess({ pixels, width: 64, height: 64, channels: 3 }, config, out);
    const plane = 224 * 224;
    expect(out[0]).toBeCloseTo((1 - config.mean[0]) / config.std[0], 5);
    expect(out[plane - 1]).toBeCloseTo((1 - config.mean[0]) / config.std[0], 5);
    expect(out[plane]).toBeCloseTo((0 - config.mean[1]) / config.std[1], 5);
    expect(out[2 * plane + 1000]).toBeCloseTo((128 / 255 - config.mean[2]) / config.std[2], 5);
  });

  it('resizes the shortest side to 224 and center-crops the long side', () => {
    // 32 wide x 64 high: resized to 224x448, rows 112..335 kept. Top half red, bottom half blue.
    const pixels = new Uint8Array(32 * 64 * 3);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 32; x++) pixels.set(y < 32 ? [255, 0, 0] : [0, 0, 255], (y * 32 + x) * 3);
    }
    const out = new Float32Array(3 * 224 * 224);
    clipPreprocess({ pixels, width: 32, height: 64, channels: 3 }, config, out);
    const red = (row: number) => out[row * 224 + 100]!;
    expect(red(0)).toBeCloseTo((1 - config.mean[0]) / config.std[0], 5); // source row 16: red
    expect(red(223)).toBeCloseTo((0 - config.mean[0]) / config.std[0], 5); // source row 47.9: blue
    expect(red(111)).toBeGreaterThan(red(112)); // the edge sits in the middle of the crop
  });
});

describe('decoder output to pixels', () => {
  it('maps -1..1 to 0..255 with clipping and numpy round half to even', () => {
    const chw = new Float32Array(18);
    chw.set([-1, 0, 1, 1.5, -3, 0.9999]);
    const values = new Float32Array(18);
    const pixels = new Uint8Array(18);
    decoderOutputToPixels(chw, 6, 1, values, pixels);
    // Red channel of the six pixels; 0 -> 0.5 -> 127.5 -> 128 (the even neighbour).
    expect([0, 1, 2, 3, 4, 5].map((i) => pixels[i * 3])).toEqual([0, 128, 255, 255, 0, 255]);
    expect(values[3]).toBe(0.5);
    expect(values[9]).toBe(1);
    expect(values[15]).toBe(Math.fround(Math.fround(0.9999) / 2 + 0.5));
    expect(pixels[4]).toBe(128); // green channel of pixel 1: 0 -> 128
  });

  it('prepares an encoder input in -1..1, CHW', () => {
    const input = pixelsToEncoderInput(Uint8Array.of(0, 255, 51, 255, 0, 51), 2, 1);
    expect(Array.from(input)).toEqual([
      -1,
      1,
      1,
      -1,
      Math.fround(2 * Math.fround(51 / 255) - 1),
      Math.fround(2 * Math.fround(51 / 255) - 1),
    ]);
  });
});
