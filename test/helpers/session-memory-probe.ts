/**
 * Run as its own process by the sd15-memory benchmark (RSS is per process): opens one ONNX file
 * with the worker's own session code and settings given as JSON in argv[2], runs it `runs` times on
 * inputs of the given size and prints one JSON line: the process's RSS before loading, its peak
 * after loading and after the runs (the kernel's high-water mark, which catches what sampling
 * between runs misses), and each run's time.
 */
import { openOnnxModel } from '../../worker/src/diffusion/backend/onnx.js';
import { float32Tensor, type Tensor } from '../../worker/src/diffusion/backend/tensor.js';

export interface SessionProbeInput {
  file: string;
  /** The UNet's inputs (`rows` rows) or the VAE decoder's (one latent). */
  part: 'unet' | 'vae_decoder';
  rows: number;
  /** Image side in pixels (latents are an eighth of it). */
  size: number;
  runs: number;
  cpuMemArena: boolean;
  prepackMaxBytes: number;
}

export interface SessionProbeResult {
  baselineBytes: number;
  loadedMaxRssBytes: number;
  maxRssBytes: number;
  runMs: number[];
}

const maxRss = () => process.resourceUsage().maxRSS * 1024;

function random(length: number): Float32Array {
  return Float32Array.from({ length }, () => Math.random() - 0.5);
}

function feeds({ part, rows, size }: SessionProbeInput): Record<string, Tensor> {
  const side = size / 8;
  if (part === 'vae_decoder')
    return { latent_sample: float32Tensor(random(4 * side * side), [1, 4, side, side]) };
  return {
    sample: float32Tensor(random(rows * 4 * side * side), [rows, 4, side, side]),
    timestep: float32Tensor(new Float32Array(rows).fill(500), [rows]),
    encoder_hidden_states: float32Tensor(random(rows * 77 * 768), [rows, 77, 768]),
  };
}

const input = JSON.parse(process.argv[2] ?? '{}') as SessionProbeInput;
const baselineBytes = process.memoryUsage.rss();
const model = await openOnnxModel(input.file, {
  provider: 'cpu',
  intraOpThreads: 0,
  graphOptimization: 'all',
  cpuMemArena: input.cpuMemArena,
  prepackMaxBytes: input.prepackMaxBytes,
});
const loadedMaxRssBytes = maxRss();
const runMs: number[] = [];
for (let run = 0; run < input.runs; run++) {
  const started = performance.now();
  await model.run(feeds(input));
  runMs.push(performance.now() - started);
}
await model.release();
const result: SessionProbeResult = { baselineBytes, loadedMaxRssBytes, maxRssBytes: maxRss(), runMs };
console.log(JSON.stringify(result));
