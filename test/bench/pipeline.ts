/**
 * Where a Stable Diffusion job's time goes: per-stage times on bench-sd (SD 1.x block structure at
 * about 1/10 width) at 256x256 and 512x512, 20 PNDM steps, and the share of wall time spent outside
 * onnxruntime (the pipeline's own overhead; the goal is under 3%).
 */
import sharp from 'sharp';
import { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import type { GenerationTimings } from '../../worker/src/diffusion/timings.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

const SIZES = [256, 512];
const STEPS = 20;

interface Row {
  size: number;
  timings: GenerationTimings;
  encodeMs: number;
}

function table(rows: Row[]): string {
  const ms = (value: number) => value.toFixed(1);
  const lines: string[][] = [['stage', ...rows.map((row) => `${row.size}x${row.size} (ms)`)]];
  const add = (label: string, pick: (row: Row) => string) => lines.push([label, ...rows.map(pick)]);
  add('tokenize', (row) => ms(row.timings.stages.tokenize));
  add('text encoder', (row) => ms(row.timings.stages.textEncoder));
  add('initial noise', (row) => ms(row.timings.stages.noise));
  add('unet total', (row) => ms(row.timings.stages.unet));
  add('unet calls', (row) => String(row.timings.unetStepMs.length));
  add('unet step mean', (row) => ms(row.timings.stages.unet / row.timings.unetStepMs.length));
  add('unet step min', (row) => ms(Math.min(...row.timings.unetStepMs)));
  add('unet step max', (row) => ms(Math.max(...row.timings.unetStepMs)));
  add('scheduler + cfg total', (row) => ms(row.timings.stages.scheduler));
  add('vae decoder', (row) => ms(row.timings.stages.vaeDecoder));
  add('safety checker', (row) => ms(row.timings.stages.safety));
  add('png encode', (row) => ms(row.encodeMs));
  add('generate() wall', (row) => ms(row.timings.totalMs));
  add('inside onnxruntime', (row) => ms(row.timings.runtimeMs));
  add('outside onnxruntime', (row) => {
    const outside = row.timings.totalMs - row.timings.runtimeMs;
    return `${ms(outside)} (${((100 * outside) / row.timings.totalMs).toFixed(2)}%)`;
  });
  add('outside incl. png', (row) => {
    const wall = row.timings.totalMs + row.encodeMs;
    const outside = wall - row.timings.runtimeMs;
    return `${ms(outside)} (${((100 * outside) / wall).toFixed(2)}%)`;
  });
  const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  return lines.map((line) => line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')).join('\n');
}

export async function run(): Promise<void> {
  const fixture = sharedFixture('bench-sd');
  if (!fixture.available) {
    console.log(`pipeline benchmark skipped${fixture.skipNote}`);
    return;
  }
  const threads = Number(process.env.SDBOT_THREADS ?? 0);
  const pipeline = await StableDiffusionPipeline.load(fixture.path, {
    provider: 'cpu',
    intraOpThreads: threads,
    graphOptimization: 'all',
    safetyChecker: true,
  });
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      const request = {
        prompt: 'a lighthouse on a cliff at dusk, oil painting',
        seed: 1234,
        steps: STEPS,
        guidance: 7.5,
        width: size,
        height: size,
        scheduler: 'pndm',
      } as const;
      // One short warm-up run per size: the first call of each session allocates its memory plan.
      await pipeline.generate({ ...request, steps: 1 });
      const result = await pipeline.generate(request);
      const image = result.images[0]!;
      const started = performance.now();
      await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
        .png()
        .toBuffer();
      rows.push({ size, timings: result.timings, encodeMs: performance.now() - started });
    }
  } finally {
    await pipeline.release();
  }
  console.log(`bench-sd, ${STEPS} PNDM steps, guidance 7.5, batch 1, cpu, threads ${threads || 'auto'}`);
  console.log(table(rows));
}
