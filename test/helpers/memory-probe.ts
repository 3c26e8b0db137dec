/**
 * Run as its own process by the pipeline benchmark (RSS is per process, and an arena keeps what
 * it took): loads an export with the session settings given as JSON in argv[2], runs one
 * generation and prints one JSON line with the memory and step times it measured.
 */
import { PeakRss } from '../../worker/src/diffusion/peak-rss.js';
import { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';

interface ProbeInput {
  directory: string;
  size: number;
  steps: number;
  count: number;
  cpuMemArena: boolean;
  prepackMaxBytes: number;
  /** SDBOT_UNET_MAX_ROWS (0: auto). */
  unetMaxRows: number;
  threads: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as ProbeInput;
const memory = new PeakRss().start();
const baseline = memory.peakBytes();
const loading = await memory.during(() =>
  StableDiffusionPipeline.load(input.directory, {
    provider: 'cpu',
    intraOpThreads: input.threads,
    graphOptimization: 'all',
    safetyChecker: true,
    cpuMemArena: input.cpuMemArena,
    prepackMaxBytes: input.prepackMaxBytes,
    unetMaxRows: input.unetMaxRows,
  }),
);
const pipeline = loading.value;
const loadedRss = memory.sample();
const result = await pipeline.generate(
  {
    prompt: 'a lighthouse on a cliff at dusk, oil painting',
    seed: 1234,
    steps: input.steps,
    guidance: 7.5,
    width: input.size,
    height: input.size,
    count: input.count,
    scheduler: 'euler',
  },
  { memory },
);
const afterRss = memory.sample();
await pipeline.release();
memory.stop();
console.log(
  JSON.stringify({
    baselineBytes: baseline,
    loadPeakBytes: loading.peakBytes,
    loadedBytes: loadedRss,
    stagePeakBytes: result.timings.peakRssBytes,
    afterBytes: afterRss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    unetStepMs: result.timings.unetStepMs,
    unetRowsPerRun: result.unetRowsPerRun,
  }),
);
