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

interface Timing {
  /** Median wall-clock milliseconds. */
  wall: number;
  /** Median CPU milliseconds of this process: steadier than wall time on a shared machine. */
  cpu: number;
}

function measure(runs: number, work: () => unknown): Timing {
  work();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const startCpu = process.cpuUsage();
    work();
    const used = process.cpuUsage(startCpu);
    wall.push(performance.now() - start);
    cpu.push((used.user + used.system) / 1000);
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[values.length >> 1] ?? 0;
  return { wall: median(wall), cpu: median(cpu) };
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
    const embed = measure(runs, () => embedWatermark(rgb, width, height));
    const detect = measure(runs, () => detectWatermark(result.rgb, width, height));
    const reference = measure(runs, () => embedWatermarkReference(rgb, width, height));
    return {
      case: name,
      'embed+verify ms': embed.wall.toFixed(1),
      'embed+verify cpu ms': embed.cpu.toFixed(1),
      'detect ms': detect.wall.toFixed(1),
      'reference embed ms': reference.wall.toFixed(1),
      'bit errors': result.bitErrors,
      'PSNR dB': result.psnr.toFixed(2),
      corrections: result.corrections,
    };
  }),
);
