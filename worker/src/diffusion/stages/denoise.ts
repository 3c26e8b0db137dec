/**
 * The UNet loop: for each timestep, scale each image's latents, run the UNet on the whole batch
 * (unconditional rows first when classifier-free guidance is on) in runs of at most `rowsPerRun`
 * rows, combine the two noise predictions, and let each image's scheduler take its step.
 */
import { SdbotError, type ExecutionProviderName } from '@sdbot/shared';
import type { Float32Tensor } from '../backend/tensor.js';
import type { InferenceModel } from '../backend/types.js';
import type { UnetSignature } from '../model-adapters.js';
import type { NoiseGenerator } from '../noise.js';
import type { Scheduler } from '../schedulers/index.js';
import type { TextEmbeddings } from './text-encoder.js';

/** After UNet call `step` of `total` (1-based); `latents` is `[count, 4, h, w]`, a fresh copy. */
export type StepCallback = (step: number, total: number, latents: Float32Tensor) => void;

/** One image of the batch. */
export interface DenoisingImage {
  /** Its own scheduler (multistep schedulers keep per-image history), timesteps already set. */
  scheduler: Scheduler;
  /** `[4, h, w]` starting latents. */
  latents: Float32Array;
  /** Its own generator, for schedulers that add noise while stepping (ancestral, LCM). */
  generator: NoiseGenerator;
}

export interface DenoiseInput {
  unet: InferenceModel;
  signature: UnetSignature;
  images: readonly DenoisingImage[];
  /** The timesteps to run, in order (img2img starts part-way through the schedule). */
  timesteps: readonly number[];
  latentHeight: number;
  latentWidth: number;
  /** With `negative` present the batch carries unconditional rows and guidance is applied. */
  embeddings: TextEmbeddings;
  guidance: number;
  /** Most rows one UNet run takes (see unetRowsPerRun); the whole batch when absent. */
  rowsPerRun?: number | undefined;
  signal?: AbortSignal | undefined;
  onStep?: StepCallback | undefined;
}

export interface DenoiseResult {
  latents: Float32Array[];
  /** Wall time of each UNet call (all its runs). */
  unetStepMs: number[];
  /** Time spent scaling inputs, combining predictions and stepping schedulers. */
  schedulerMs: number;
  /** UNet evaluations of the whole batch, one per step however many runs each took. */
  unetCalls: number;
  /** Sum over calls of the UNet batch size: 2 per image with guidance, 1 without. */
  unetBatchRows: number;
  /** Most rows one UNet run took (0 when none ran). */
  unetRowsPerRun: number;
}

function cancelled(signal: AbortSignal, step: number, total: number): SdbotError {
  const reason: unknown = signal.reason;
  const detail =
    typeof reason === 'string' ? `: ${reason}` : reason instanceof Error ? `: ${reason.message}` : '';
  return new SdbotError('CANCELLED', `generation cancelled after ${step} of ${total} steps${detail}`);
}

/** `[rows, S, D]`: the negative prompt's rows first (one per image), then the prompt's. */
function hiddenStates(embeddings: TextEmbeddings, count: number): Float32Tensor {
  const rows =
    embeddings.negative === undefined ? [embeddings.positive] : [embeddings.negative, embeddings.positive];
  const rowSize = embeddings.sequenceLength * embeddings.hiddenSize;
  const data = new Float32Array(rows.length * count * rowSize);
  rows.forEach((row, group) => {
    for (let image = 0; image < count; image++) data.set(row, (group * count + image) * rowSize);
  });
  return {
    dtype: 'float32',
    data,
    dims: [rows.length * count, embeddings.sequenceLength, embeddings.hiddenSize],
  };
}

function timestepTensor(signature: UnetSignature, rows: number): Float32Tensor {
  if (signature.timestepRank === 0) return { dtype: 'float32', data: new Float32Array(1), dims: [] };
  const length = signature.timestepLength === 1 ? 1 : rows;
  return { dtype: 'float32', data: new Float32Array(length), dims: [length] };
}

/**
 * Rows one UNet run takes. `maxRows` 0 (auto) gives 1 on the CPU provider, where a bigger batch is
 * no faster and the attention's activations grow with the rows (bench-sd at 512x512: one image with
 * guidance peaks at 2.0 GiB in runs of 1 row, 3.6 GiB in one run of 2, a 2x2 grid's 8 rows at
 * 13 GiB), and the whole batch on a GPU. onnxruntime's result for a row does not depend on the
 * rows beside it, so the images are the same either way.
 */
export function unetRowsPerRun(maxRows: number, provider: ExecutionProviderName): number {
  if (!Number.isInteger(maxRows) || maxRows < 0) {
    throw new SdbotError(
      'INVALID_INPUT',
      `unetMaxRows must be a whole number of rows, or 0 for auto; got ${maxRows}`,
    );
  }
  if (maxRows > 0) return maxRows;
  return provider === 'cpu' ? 1 : Number.POSITIVE_INFINITY;
}

/** The runs' outputs in row order: one run's output is the prediction itself. */
function joined(outputs: readonly Float32Array[]): Float32Array {
  const [first] = outputs;
  if (outputs.length === 1 && first !== undefined) return first;
  const all = new Float32Array(outputs.reduce((length, output) => length + output.length, 0));
  let offset = 0;
  for (const output of outputs) {
    all.set(output, offset);
    offset += output.length;
  }
  return all;
}

/** The UNet's inputs for one run's rows of the batch, refilled every step. */
interface RowRun {
  count: number;
  sample: Float32Tensor;
  timestep: Float32Tensor;
  encoderHiddenStates: Float32Tensor;
}

function rowRuns(
  signature: UnetSignature,
  hidden: Float32Tensor,
  rows: number,
  rowsPerRun: number,
  [latentHeight, latentWidth]: readonly [number, number],
): RowRun[] {
  const rowSize = hidden.data.length / rows;
  const runs: RowRun[] = [];
  for (let from = 0; from < rows; from += rowsPerRun) {
    const count = Math.min(rowsPerRun, rows - from);
    runs.push({
      count,
      sample: {
        dtype: 'float32',
        data: new Float32Array(count * 4 * latentHeight * latentWidth),
        dims: [count, 4, latentHeight, latentWidth],
      },
      timestep: timestepTensor(signature, count),
      encoderHiddenStates:
        count === rows
          ? hidden
          : {
              dtype: 'float32',
              data: hidden.data.slice(from * rowSize, (from + count) * rowSize),
              dims: [count, ...hidden.dims.slice(1)],
            },
    });
  }
  return runs;
}

/** `uncond + g * (cond - uncond)` in float32, as numpy computes it. */
function guide(output: Float32Array, uncondStart: number, condStart: number, size: number, guidance: number) {
  const scale = Math.fround(guidance);
  const guided = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const uncond = output[uncondStart + i] ?? 0;
    const difference = Math.fround((output[condStart + i] ?? 0) - uncond);
    guided[i] = uncond + Math.fround(scale * difference);
  }
  return guided;
}

export async function denoise(input: DenoiseInput): Promise<DenoiseResult> {
  const { unet, signature, images, timesteps, latentHeight, latentWidth, guidance, signal, onStep } = input;
  const count = images.length;
  const guided = input.embeddings.negative !== undefined;
  const rows = guided ? 2 * count : count;
  const imageSize = 4 * latentHeight * latentWidth;
  const total = timesteps.length;
  // Each image's latents are replaced by its scheduler's output at every step.
  const states = images.map((image) => ({ ...image }));
  // Reused across steps: onnxruntime reads them during the awaited call only.
  const runs = rowRuns(
    signature,
    hiddenStates(input.embeddings, count),
    rows,
    Math.max(1, input.rowsPerRun ?? rows),
    [latentHeight, latentWidth],
  );
  const rowsPerRun = runs[0]?.count ?? rows;
  const setRow = (row: number, latents: Float32Array) => {
    runs[Math.floor(row / rowsPerRun)]?.sample.data.set(latents, (row % rowsPerRun) * imageSize);
  };
  const result: Omit<DenoiseResult, 'latents'> = {
    unetStepMs: [],
    schedulerMs: 0,
    unetCalls: 0,
    unetBatchRows: 0,
    unetRowsPerRun: 0,
  };

  for (let index = 0; index < total; index++) {
    const t = timesteps[index] ?? 0;
    let started = performance.now();
    states.forEach((state, image) => {
      const scaled = state.scheduler.scaleModelInput(state.latents, t);
      setRow(image, scaled);
      if (guided) setRow(count + image, scaled);
    });
    result.schedulerMs += performance.now() - started;

    started = performance.now();
    const outputs: Float32Array[] = [];
    for (const run of runs) {
      if (signal?.aborted === true) throw cancelled(signal, index, total);
      run.timestep.data.fill(t);
      const { out_sample: output } = await unet.run(
        { sample: run.sample, timestep: run.timestep, encoder_hidden_states: run.encoderHiddenStates },
        ['out_sample'],
      );
      if (output?.dtype !== 'float32' || output.data.length !== run.count * imageSize) {
        throw new SdbotError(
          'INFERENCE_FAILED',
          `${unet.file}: out_sample has shape [${output?.dims.join(', ') ?? ''}], expected [${run.sample.dims.join(', ')}]`,
        );
      }
      outputs.push(output.data);
      result.unetRowsPerRun = Math.max(result.unetRowsPerRun, run.count);
    }
    const prediction = joined(outputs);
    result.unetStepMs.push(performance.now() - started);
    result.unetCalls += 1;
    result.unetBatchRows += rows;

    started = performance.now();
    states.forEach((state, image) => {
      // Fresh arrays: multistep schedulers keep earlier predictions and samples by reference.
      const noise = guided
        ? guide(prediction, image * imageSize, (count + image) * imageSize, imageSize, guidance)
        : prediction.subarray(image * imageSize, (image + 1) * imageSize);
      state.latents = state.scheduler.step(noise, t, state.latents, state.generator).prevSample;
    });
    result.schedulerMs += performance.now() - started;

    if (onStep !== undefined) {
      const data = new Float32Array(count * imageSize);
      states.forEach((state, image) => {
        data.set(state.latents, image * imageSize);
      });
      onStep(index + 1, total, { dtype: 'float32', data, dims: [count, 4, latentHeight, latentWidth] });
    }
  }
  return { ...result, latents: states.map((state) => state.latents) };
}
