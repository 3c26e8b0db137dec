/**
 * One upscale benchmark case in a process of its own, so its peak memory (maxRSS) is its own:
 * `tsx upscale-bench-case.ts MODEL_DIR SIDE TARGET TILE OVERLAP` prints one JSON line.
 */
import { enlarge } from '../../worker/src/upscale/enlarge.js';
import { Upscaler } from '../../worker/src/upscale/upscaler.js';
import { photoLikeImage } from './synthetic-images.js';

const [modelDirectory = '', side = '512', target = '1024', tile = '256', overlap = '32', provider = 'cpu'] =
  process.argv.slice(2);
const size = Number(side);
const upscaler = await Upscaler.load(modelDirectory, {
  provider: provider as 'cpu' | 'cuda',
  intraOpThreads: 0,
  graphOptimization: 'all',
});
const image = { rgb: photoLikeImage(size, size, 'landscape', 3), width: size, height: size };
const started = performance.now();
const output = await enlarge(image, { width: Number(target), height: Number(target) }, upscaler, {
  tile: Number(tile),
  overlap: Number(overlap),
});
const seconds = (performance.now() - started) / 1000;
await upscaler.release();
console.log(
  JSON.stringify({
    seconds,
    peakMiB: process.resourceUsage().maxRSS / 1024,
    output: `${output.width}x${output.height}`,
    provider: upscaler.provider,
  }),
);
