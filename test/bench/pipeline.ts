/**
 * Where a Stable Diffusion job's time and memory go: per-stage times and peak RSS on bench-sd
 * (SD 1.x block structure at about 1/10 width) at 256x256 and 512x512, 20 PNDM steps, the share
 * of wall time spent outside onnxruntime (the pipeline's own overhead; the goal is under 3%), the
 * RSS of the loaded model, and a memory comparison of session settings and of the UNet rows a run
 * takes (one image, a 2x2 grid), each in its own process.
 *
 * `--steps=N` shortens the timed runs; `--memory` runs only the comparison.
 */
import sharp from 'sharp';
import { DEFAULT_PREPACK_MAX_BYTES } from '../../worker/src/diffusion/backend/onnx.js';
import { MIB, PeakRss } from '../../worker/src/diffusion/peak-rss.js';
import { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { STAGES, type GenerationTimings } from '../../worker/src/diffusion/timings.js';
import { formatColumns, numberArg, runProbe } from '../helpers/bench.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

const SIZES = [256, 512];

interface Row {
  size: number;
  timings: GenerationTimings;
  encodeMs: number;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '-' : (bytes / MIB).toFixed(0);
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
  for (const stage of STAGES) {
    if (rows.every((row) => row.timings.peakRssBytes?.[stage] === undefined)) continue;
    add(`peak RSS ${stage} (MiB)`, (row) => mib(row.timings.peakRssBytes?.[stage]));
  }
  return formatColumns(lines);
}

interface ProbeResult {
  baselineBytes: number;
  loadedBytes: number;
  stagePeakBytes: Partial<Record<string, number>>;
  maxRssBytes: number;
  unetStepMs: number[];
  unetRowsPerRun: number;
}

const SDBOT_DEFAULTS = {
  label: `sdbot defaults (arena off, prepack < ${DEFAULT_PREPACK_MAX_BYTES / MIB} MiB, 1 UNet row a run)`,
  cpuMemArena: false,
  prepackMaxBytes: DEFAULT_PREPACK_MAX_BYTES,
  unetMaxRows: 0,
};

/** One image, then a 2x2 grid (a bare /imagine: 8 UNet rows a step) in one run or a row a run. */
const MEMORY_PROBES = [
  {
    label: 'onnxruntime defaults (arena on, prepack all, all rows in one run)',
    cpuMemArena: true,
    prepackMaxBytes: 2 ** 52,
    unetMaxRows: 8,
    count: 1,
  },
  { ...SDBOT_DEFAULTS, label: 'sdbot defaults, but both rows in one run', unetMaxRows: 2, count: 1 },
  { ...SDBOT_DEFAULTS, count: 1 },
  { ...SDBOT_DEFAULTS, label: 'sdbot defaults, but prepack off', prepackMaxBytes: 0, count: 1 },
  { ...SDBOT_DEFAULTS, label: 'sdbot defaults, but all 8 rows in one run', unetMaxRows: 8, count: 4 },
  { ...SDBOT_DEFAULTS, count: 4 },
] as const;

/** The same 512x512 generation under each setting, each in a fresh process. */
async function memoryComparison(directory: string, threads: number, steps: number): Promise<void> {
  const lines = [['settings', 'images', 'RSS loaded', 'peak unet', 'peak vae', 'max RSS', 'unet steps (ms)']];
  for (const { label, count, ...setting } of MEMORY_PROBES) {
    // A grid's step takes four times as long: two steps show the first and a later one.
    const input = {
      directory,
      size: 512,
      steps: count > 1 ? Math.min(steps, 2) : steps,
      count,
      threads,
      ...setting,
    };
    const probe = await runProbe<ProbeResult>('test/helpers/memory-probe.ts', input);
    if (typeof probe === 'string') {
      lines.push([label, String(count), probe]);
      continue;
    }
    lines.push([
      label,
      `${count} (${2 * count} rows, ${probe.unetRowsPerRun} a run)`,
      `${mib(probe.loadedBytes)} MiB`,
      `${mib(probe.stagePeakBytes.unet)} MiB`,
      `${mib(probe.stagePeakBytes.vaeDecoder)} MiB`,
      `${mib(probe.maxRssBytes)} MiB`,
      probe.unetStepMs.map((step) => step.toFixed(0)).join(' '),
    ]);
  }
  console.log(`\nprocess memory, 512x512 with guidance, ${steps} euler steps (2 for a grid), safety on`);
  console.log(formatColumns(lines));
}

export async function run(args: string[]): Promise<void> {
  const fixture = sharedFixture('bench-sd');
  if (!fixture.available) {
    console.log(`pipeline benchmark skipped${fixture.skipNote}`);
    return;
  }
  const threads = Number(process.env.SDBOT_THREADS ?? 0);
  const steps = numberArg(args, 'steps', 20);
  if (!args.includes('--memory')) await timedRuns(fixture.path, threads, steps);
  await memoryComparison(fixture.path, threads, Math.min(steps, 3));
}

async function timedRuns(directory: string, threads: number, steps: number): Promise<void> {
  const memory = new PeakRss().start();
  const before = memory.sample();
  const pipeline = await StableDiffusionPipeline.load(directory, {
    provider: 'cpu',
    intraOpThreads: threads,
    graphOptimization: 'all',
    safetyChecker: true,
  });
  const loaded = memory.sample();
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      const request = {
        prompt: 'a lighthouse on a cliff at dusk, oil painting',
        seed: 1234,
        steps,
        guidance: 7.5,
        width: size,
        height: size,
        scheduler: 'pndm',
      } as const;
      // One short warm-up run per size: the first call of each session allocates its memory plan.
      await pipeline.generate({ ...request, steps: 1 });
      const result = await pipeline.generate(request, { memory });
      const image = result.images[0]!;
      const started = performance.now();
      await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
        .png()
        .toBuffer();
      rows.push({ size, timings: result.timings, encodeMs: performance.now() - started });
    }
  } finally {
    await pipeline.release();
    memory.stop();
  }
  console.log(`bench-sd, ${steps} PNDM steps, guidance 7.5, batch 1, cpu, threads ${threads || 'auto'}`);
  console.log(
    `RSS: ${mib(before)} MiB before loading, ${mib(loaded)} MiB with the model loaded (+${mib(loaded - before)} MiB)`,
  );
  console.log(table(rows));
}
