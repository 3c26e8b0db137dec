import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SdbotError, ValidationError } from '@sdbot/shared';
import { readRgbImage } from '../../../worker/src/image-io.js';
import {
  DEFAULT_WATERMARK_TEXT,
  detectWatermark,
  embedWatermark,
  embedWatermarkReference,
} from '../../../worker/src/watermark/index.js';
import { sharedFixture } from '../../helpers/shared-fixtures.js';
import { photoLikeImage, seededRandom, type PhotoScene } from '../../helpers/synthetic-images.js';

/** "StableDiffusionV1", 17 bytes MSB first. */
const SD_PAYLOAD =
  '0101001101110100011000010110001001101100011001010100010001101001011001100110011001110101011100110110100101101111011011100101011000110001';
const MIN_PSNR = 38;

interface Samples {
  watermark: string;
  samples: Record<
    string,
    {
      size: [number, number];
      decoded_bits: string;
      bit_errors_vs_StableDiffusionV1: number;
      pixels_changed: number;
    }
  >;
}

const samplesDir = sharedFixture('watermark-samples');

function noiseImage(width: number, height: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  return Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256));
}

describe('dwtDct decoder', () => {
  it('reads nothing like the payload from an unmarked photo-like image', () => {
    const readout = detectWatermark(photoLikeImage(512, 512, 'landscape', 3), 512, 512);
    expect(readout.bits).toHaveLength(136);
    expect(readout.match).toBe(false);
    expect(readout.bitErrors).toBeGreaterThan(0);
  });

  it('refuses images under 256x256 pixels and buffers that do not match the size', () => {
    expect(() => detectWatermark(new Uint8Array(255 * 256 * 3), 255, 256)).toThrow(/256x256/);
    expect(() => detectWatermark(new Uint8Array(10), 256, 256)).toThrow(SdbotError);
  });
});

describe.skipIf(!samplesDir.available)(`dwtDct against the reference samples${samplesDir.skipNote}`, () => {
  const samples = (): Samples =>
    JSON.parse(readFileSync(join(samplesDir.path, 'samples.json'), 'utf8')) as Samples;

  it('the payload of "StableDiffusionV1" is its 17 bytes, most significant bit first', async () => {
    const sample = samples();
    expect(sample.watermark).toBe(DEFAULT_WATERMARK_TEXT);
    const { rgb, width, height } = await readRgbImage(join(samplesDir.path, 'noise.ref.png'));
    expect(detectWatermark(rgb, width, height).bits).toBe(SD_PAYLOAD);
  });

  it('reads exactly the bits the reference decoder reads from each reference output, errors included', async () => {
    for (const [name, expected] of Object.entries(samples().samples)) {
      const { rgb, width, height } = await readRgbImage(join(samplesDir.path, `${name}.ref.png`));
      expect([width, height], name).toEqual(expected.size);
      const readout = detectWatermark(rgb, width, height);
      expect(readout.bits, name).toBe(expected.decoded_bits);
      expect(readout.bitErrors, name).toBe(expected.bit_errors_vs_StableDiffusionV1);
    }
  });

  it('the reference embedder reproduces the reference outputs pixel for pixel', async () => {
    for (const [name, expected] of Object.entries(samples().samples)) {
      const original = await readRgbImage(join(samplesDir.path, `${name}.png`));
      const reference = await readRgbImage(join(samplesDir.path, `${name}.ref.png`));
      const ours = embedWatermarkReference(original.rgb, original.width, original.height);
      expect(ours, name).not.toBeNull();
      let differing = 0;
      let changed = 0;
      for (let p = 0; p < original.width * original.height; p++) {
        const at = p * 3;
        const same = (a: Uint8Array, b: Uint8Array): boolean =>
          a[at] === b[at] && a[at + 1] === b[at + 1] && a[at + 2] === b[at + 2];
        if (!same(ours ?? new Uint8Array(), reference.rgb)) differing++;
        if (!same(reference.rgb, original.rgb)) changed++;
      }
      expect(differing, name).toBe(0);
      expect(changed, name).toBe(expected.pixels_changed);
    }
  });

  it('embedWatermark marks every sample so the reference decoder reads the exact payload', async () => {
    const rows: string[] = [];
    for (const name of Object.keys(samples().samples)) {
      const { rgb, width, height } = await readRgbImage(join(samplesDir.path, `${name}.png`));
      const result = embedWatermark(rgb, width, height);
      const readout = detectWatermark(result.rgb, width, height);
      rows.push(
        `${name.padEnd(16)} ${String(readout.bitErrors).padStart(2)} bit errors  PSNR ${result.psnr.toFixed(2)} dB  ${result.corrections} corrections`,
      );
      expect(result.watermarked, name).toBe(true);
      expect(readout.bits, name).toBe(SD_PAYLOAD);
      expect(result.bitErrors, name).toBe(0);
      expect(result.psnr, name).toBeGreaterThanOrEqual(MIN_PSNR);
    }
    console.log(`embedWatermark on the reference samples:\n${rows.join('\n')}`);
  });
});

describe('embedWatermark', () => {
  const cases: [PhotoScene, number, number][] = [
    ['landscape', 512, 512],
    ['portrait', 512, 768],
    ['night', 768, 512],
    ['poster', 512, 512],
    ['landscape', 515, 389],
  ];

  it('photo-like images decode to the exact payload at 38 dB or better', () => {
    const rows: string[] = [];
    for (const [scene, width, height] of cases) {
      const input = photoLikeImage(width, height, scene, 11);
      const result = embedWatermark(input, width, height);
      const readout = detectWatermark(result.rgb, width, height);
      rows.push(
        `${`${scene} ${width}x${height}`.padEnd(20)} ${String(readout.bitErrors).padStart(2)} bit errors  PSNR ${result.psnr.toFixed(2)} dB  ${result.corrections} corrections`,
      );
      expect(readout.match, `${scene} ${width}x${height}`).toBe(true);
      expect(result.bitErrors).toBe(0);
      expect(result.psnr, `${scene} ${width}x${height}`).toBeGreaterThanOrEqual(MIN_PSNR);
    }
    console.log(`embedWatermark on photo-like images:\n${rows.join('\n')}`);
  });

  it('reports the PSNR it achieved and leaves pixels outside the transformed region alone', () => {
    const [width, height] = [515, 389];
    const input = noiseImage(width, height, 5);
    const result = embedWatermark(input, width, height);
    let squared = 0;
    for (let i = 0; i < input.length; i++) squared += ((input[i] ?? 0) - (result.rgb[i] ?? 0)) ** 2;
    expect(result.psnr).toBeCloseTo(10 * Math.log10((255 * 255 * input.length) / squared), 9);
    // The region is rows//4*4 x cols//4*4 = 388 x 512: row 388 and columns 512..514 never change.
    const outside = (image: Uint8Array): number[] => {
      const values: number[] = [];
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          if (y >= 388 || x >= 512)
            values.push(...image.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
        }
      }
      return values;
    };
    expect(outside(result.rgb)).toEqual(outside(input));
    expect(Buffer.from(input).equals(Buffer.from(noiseImage(width, height, 5)))).toBe(true);
  });

  it('embeds any UTF-8 text, which the decoder reads back as text', () => {
    const text = 'sdbot ✓ 画像';
    const input = photoLikeImage(512, 512, 'portrait', 2);
    const result = embedWatermark(input, 512, 512, text);
    expect(result.bitErrors).toBe(0);
    const readout = detectWatermark(result.rgb, 512, 512, text);
    expect(readout).toMatchObject({ match: true, text, bitErrors: 0 });
    expect(readout.bits).toHaveLength(new TextEncoder().encode(text).length * 8);
    expect(detectWatermark(result.rgb, 512, 512).match).toBe(false);
  });

  it('leaves images under 256x256 pixels unmarked and says why', () => {
    const input = noiseImage(200, 300, 1);
    const result = embedWatermark(input, 200, 300);
    expect(result).toMatchObject({ watermarked: false, bitErrors: 136, corrections: 0 });
    expect(result.reason).toMatch(/200x300.*256x256/);
    expect(Buffer.from(result.rgb).equals(Buffer.from(input))).toBe(true);
  });

  it('follows the reference size rule (pixel count), so a 1024x64 banner is marked', () => {
    const input = noiseImage(1024, 64, 8);
    const result = embedWatermark(input, 1024, 64);
    expect(result.watermarked).toBe(true);
    expect(detectWatermark(result.rgb, 1024, 64).match).toBe(true);
  });

  it('refuses a payload longer than the image has blocks, and an empty text', () => {
    const long = embedWatermark(noiseImage(256, 256, 2), 256, 256, 'x'.repeat(200));
    expect(long.watermarked).toBe(false);
    expect(long.reason).toMatch(/1024 blocks.*1600 payload bits/);
    expect(() => embedWatermark(noiseImage(256, 256, 2), 256, 256, '')).toThrow(ValidationError);
  });
});
