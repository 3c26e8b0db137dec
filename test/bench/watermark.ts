/**
 * Timings of the invisible watermark (CPU, single thread): embedWatermark (aim, read back,
 * correct, then decode the output from scratch), detectWatermark, and the reference embedder for
 * comparison. Prints a table; asserts nothing. Run: `npm run bench -- watermark`.
 */
import { join } from 'node:path';
import { readRgbImage } from '../../worker/src/image-io.js';
import {
  detectWatermark,
  embedWatermark,
  embedWatermarkReference,
} from '../../worker/src/watermark/index.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';
import { photoLikeImage } from '../helpers/synthetic-images.js';

interface Case {
  name: string;
  rgb: Uint8Array;
  width: number;
  height: number;
}

function medianMs(runs: number, work: () => unknown): number {
  work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    work();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1] ?? 0;
}

const cases: Case[] = [];
for (const [width, height] of [
  [512, 512],
  [768, 512],
] as const) {
  for (const scene of ['landscape', 'portrait', 'night', 'poster'] as const) {
    cases.push({
      name: `${scene} ${width}x${height}`,
      rgb: photoLikeImage(width, height, scene, 1),
      width,
      height,
    });
  }
}
const samples = sharedFixture('watermark-samples');
if (samples.available) {
  for (const name of ['noise', 'gradient', 'sky', 'checker-768x512']) {
    const image = await readRgbImage(join(samples.path, `${name}.png`));
    cases.push({ name: `sample ${name}`, ...image });
  }
}

const runs = 15;
console.table(
  cases.map(({ name, rgb, width, height }) => {
    const result = embedWatermark(rgb, width, height);
    return {
      case: name,
      'embed+verify ms': medianMs(runs, () => embedWatermark(rgb, width, height)).toFixed(1),
      'detect ms': medianMs(runs, () => detectWatermark(result.rgb, width, height)).toFixed(1),
      'reference embed ms': medianMs(runs, () => embedWatermarkReference(rgb, width, height)).toFixed(1),
      'bit errors': result.bitErrors,
      'PSNR dB': result.psnr.toFixed(2),
      corrections: result.corrections,
    };
  }),
);
