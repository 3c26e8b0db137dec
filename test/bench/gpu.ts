/**
 * `npm run bench -- gpu`: bench-sd's UNet on the GPU execution providers (webgpu, and cuda where
 * its libraries are installed) against the cpu provider in the same run: seconds per UNet step at
 * 512x512 and 768x768 with 1, 2, 4 and 8 images (two UNet rows each, guidance on), the first
 * run's session creation + compile time, and how far the GPU's 8-bit images are from the CPU's
 * for the same request. Without a GPU adapter it says so and exits 0.
 *
 * `--model=DIR` benches another export (an fp16 one: its precision is read from the UNet's
 * inputs). The run stops adding rows after about four minutes so one call stays under five.
 */
import { SdbotError, type ExecutionProviderName } from '@sdbot/shared';
import { openOnnxSession } from '../../worker/src/diffusion/backend/onnx.js';
import type { Tensor } from '../../worker/src/diffusion/backend/tensor.js';
import type { InferenceModel } from '../../worker/src/diffusion/backend/types.js';
import { adaptUnet, type UnetSignature } from '../../worker/src/diffusion/model-adapters.js';
import { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { formatColumns } from '../helpers/bench.js';
import { pixelDiff } from '../helpers/images.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

const GPU_PROVIDERS: readonly ExecutionProviderName[] = ['webgpu', 'cuda'];
const SIZES = [512, 768];
const BATCHES = [1, 2, 4, 8];
/** Rows past this are skipped so the whole command ends within five minutes. */
const BUDGET_MS = 4 * 60_000;
const TIMED_RUNS = 3;
const IMAGE_REQUEST = {
  prompt: 'a lighthouse on a cliff at dusk, oil painting',
  seed: 1234,
  steps: 10,
  guidance: 7.5,
  width: 512,
  height: 512,
  scheduler: 'euler',
  safetyCheck: false,
} as const;

function stringArg(args: string[], name: string): string | undefined {
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** Deterministic pseudo-random values in [-1, 1): the UNet's speed does not depend on them. */
function noise(count: number, seed: number): Float32Array {
  const values = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return values;
}

function unetFeeds(model: InferenceModel, signature: UnetSignature, size: number, images: number) {
  const rows = 2 * images;
  const latent = size / 8;
  const hidden = model.inputs.find((input) => input.name === 'encoder_hidden_states')?.shape;
  const [sequence, width] = [hidden?.[1], hidden?.[2]].map((dim) => (typeof dim === 'number' ? dim : 0));
  if (!sequence || !width)
    throw new SdbotError('MODEL_INVALID', `${model.file}: encoder_hidden_states has no fixed width`);
  const timestepLength = signature.timestepLength === 1 ? 1 : rows;
  const feeds: Record<string, Tensor> = {
    sample: { dtype: 'float32', data: noise(rows * 4 * latent * latent, 1), dims: [rows, 4, latent, latent] },
    timestep: {
      dtype: 'float32',
      data: new Float32Array(timestepLength).fill(500),
      dims: signature.timestepRank === 0 ? [] : [timestepLength],
    },
    encoder_hidden_states: {
      dtype: 'float32',
      data: noise(rows * sequence * width, 2),
      dims: [rows, sequence, width],
    },
  };
  return feeds;
}

/** Median seconds of one UNet call, after one untimed call. */
async function secondsPerStep(model: InferenceModel, feeds: Record<string, Tensor>, runs = TIMED_RUNS) {
  await model.run(feeds, ['out_sample']);
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    await model.run(feeds, ['out_sample']);
    times.push((performance.now() - started) / 1000);
  }
  return times.sort((a, b) => a - b)[times.length >> 1] ?? Number.NaN;
}

interface Opened {
  model: InferenceModel;
  signature: UnetSignature;
  /** Session creation plus the first 512x512 call: what a worker pays once per model. */
  firstRunSeconds: number;
}

/** Opens the UNet on `provider`; undefined (with the reason printed) when it cannot start there. */
async function openUnet(file: string, provider: ExecutionProviderName): Promise<Opened | undefined> {
  const started = performance.now();
  const { model, fallback } = await openOnnxSession(file, {
    provider,
    intraOpThreads: 0,
    graphOptimization: 'all',
  });
  if (fallback !== undefined) {
    await model.release();
    // onnxruntime prefixes its reason with the source location; the sentence after it is the news.
    const reason = fallback.reason.split('\n')[0]?.split('was false. ').pop() ?? fallback.reason;
    console.log(`${provider}: not available (${reason.slice(0, 300)})`);
    return undefined;
  }
  const signature = adaptUnet(model);
  await model.run(unetFeeds(model, signature, 512, 1), ['out_sample']);
  return { model, signature, firstRunSeconds: (performance.now() - started) / 1000 };
}

async function imageDifference(directory: string, provider: ExecutionProviderName) {
  const generate = async (on: ExecutionProviderName) => {
    const pipeline = await StableDiffusionPipeline.load(directory, {
      provider: on,
      intraOpThreads: 0,
      graphOptimization: 'all',
      safetyChecker: false,
    });
    try {
      return (await pipeline.generate(IMAGE_REQUEST)).images[0]?.pixels ?? new Uint8Array();
    } finally {
      await pipeline.release();
    }
  };
  return pixelDiff(await generate(provider), await generate('cpu'));
}

export async function run(args: string[]): Promise<void> {
  const started = performance.now();
  const overBudget = () => performance.now() - started > BUDGET_MS;
  const fixture = sharedFixture('bench-sd');
  const directory = stringArg(args, 'model') ?? fixture.path;
  if (stringArg(args, 'model') === undefined && !fixture.available) {
    console.log(`gpu benchmark skipped${fixture.skipNote}`);
    return;
  }
  const unetFile = `${directory}/unet/model.onnx`;

  const gpus: [ExecutionProviderName, Opened][] = [];
  for (const provider of GPU_PROVIDERS) {
    const opened = await openUnet(unetFile, provider);
    if (opened !== undefined) gpus.push([provider, opened]);
  }
  if (gpus.length === 0) {
    console.log(
      'no GPU adapter or GPU execution provider could start on this machine: nothing to measure ' +
        '(webgpu needs a Vulkan driver, cuda the onnxruntime CUDA libraries)',
    );
    return;
  }
  const cpu = await openUnet(unetFile, 'cpu');
  if (cpu === undefined) throw new SdbotError('INTERNAL', 'the cpu provider did not start');
  const precision =
    cpu.model.inputs.find((input) => input.name === 'sample')?.dtype === 'float16' ? 'fp16' : 'fp32';

  // CPU seconds per step, measured once per size at one image (more would not fit the budget);
  // larger batches are compared against that figure times the batch.
  const cpuSeconds = new Map<number, number>();
  for (const size of SIZES) {
    if (overBudget()) break;
    cpuSeconds.set(size, await secondsPerStep(cpu.model, unetFeeds(cpu.model, cpu.signature, size, 1), 1));
  }

  const rows: string[][] = [
    ['provider', 'precision', 'size', 'images', 's/step gpu', 's/step cpu', 'cpu / gpu'],
  ];
  for (const [provider, { model, signature }] of gpus) {
    for (const size of SIZES) {
      for (const images of BATCHES) {
        if (overBudget()) {
          rows.push([
            provider,
            precision,
            `${size}x${size}`,
            String(images),
            'skipped (time budget)',
            '',
            '',
          ]);
          continue;
        }
        const gpu = await secondsPerStep(model, unetFeeds(model, signature, size, images));
        const perImage = cpuSeconds.get(size);
        const cpuStep = perImage === undefined ? undefined : perImage * images;
        const measured = images === 1 ? '' : ' (x batch)';
        rows.push([
          provider,
          precision,
          `${size}x${size}`,
          String(images),
          gpu.toFixed(3),
          cpuStep === undefined ? '-' : `${cpuStep.toFixed(2)}${measured}`,
          cpuStep === undefined ? '-' : (cpuStep / gpu).toFixed(1),
        ]);
      }
    }
  }
  console.log(`${directory}: UNet step with guidance (2 rows per image), median of ${TIMED_RUNS}`);
  console.log(formatColumns(rows));

  console.log(
    `\nfirst run (session creation + compile + first 512x512 step): cpu ${cpu.firstRunSeconds.toFixed(1)} s`,
  );
  for (const [provider, opened] of gpus) console.log(`  ${provider}: ${opened.firstRunSeconds.toFixed(1)} s`);
  await Promise.all([cpu, ...gpus.map(([, opened]) => opened)].map(({ model }) => model.release()));

  for (const [provider] of gpus) {
    if (overBudget()) {
      console.log(`${provider} vs cpu images: skipped (time budget)`);
      continue;
    }
    const diff = await imageDifference(directory, provider);
    console.log(
      `${provider} vs cpu, same request (${IMAGE_REQUEST.width}x${IMAGE_REQUEST.height}, ${IMAGE_REQUEST.steps} euler steps, ${precision}): ` +
        `8-bit pixels differ by at most ${diff.max}, ${diff.mean.toFixed(3)} on average`,
    );
  }
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
