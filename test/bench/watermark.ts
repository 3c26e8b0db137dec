/**
 * Timings of the invisible watermark (CPU, single thread): embedWatermark (aim, read back,
 * correct, then decode the output), detectWatermark, and the reference embedder for comparison.
 * Prints a table (bit errors as detectWatermark reads them from each output) and a summary line;
 * asserts nothing. Run: `npm run bench -- watermark`.
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
// Two rounds over every case first, so that the JIT's tier-up lands on none of the timed runs
// (otherwise the first case listed absorbs it).
for (let round = 0; round < 2; round++) {
  for (const { rgb, width, height } of cases) embedWatermark(rgb, width, height);
}
const rows = cases.map(({ name, rgb, width, height }) => {
  const result = embedWatermark(rgb, width, height);
  // Bit errors as the reference decoder reads them from the output, not as the embedder reports.
  const { bitErrors } = detectWatermark(result.rgb, width, height);
  const embed = measure(runs, () => embedWatermark(rgb, width, height));
  const detect = measure(runs, () => detectWatermark(result.rgb, width, height));
  const reference = measure(runs, () => embedWatermarkReference(rgb, width, height));
  return { name, width, height, result, bitErrors, embed, detect, reference };
});
console.table(
  rows.map(({ name, result, bitErrors, embed, detect, reference }) => ({
    case: name,
    'embed+verify ms': embed.wall.toFixed(1),
    'embed+verify cpu ms': embed.cpu.toFixed(1),
    'detect ms': detect.wall.toFixed(1),
    'reference embed ms': reference.wall.toFixed(1),
    'bit errors': bitErrors,
    'PSNR dB': result.psnr.toFixed(2),
    corrections: result.corrections,
  })),
);
const square = rows.filter(({ width, height }) => width === 512 && height === 512);
const psnrs = rows.map(({ result }) => result.psnr);
console.log(
  [
    `max embed+verify over 512x512 cases: ${Math.max(...square.map(({ embed }) => embed.wall)).toFixed(1)} ms`,
    `mean PSNR ${(psnrs.reduce((sum, psnr) => sum + psnr, 0) / psnrs.length).toFixed(2)} dB`,
    `min PSNR ${Math.min(...psnrs).toFixed(2)} dB`,
    `total bit errors ${rows.reduce((sum, row) => sum + row.bitErrors, 0)}`,
  ].join(', '),
);
