/**
 * The UNet loop: for each timestep, scale each image's latents, run the UNet once for the whole
 * batch (unconditional rows first when classifier-free guidance is on), combine the two noise
 * predictions, and let each image's scheduler take its step.
 */
import { SdbotError } from '@sdbot/shared';
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
  signal?: AbortSignal | undefined;
  onStep?: StepCallback | undefined;
}

export interface DenoiseResult {
  latents: Float32Array[];
  /** Wall time of each UNet call. */
  unetStepMs: number[];
  /** Time spent scaling inputs, combining predictions and stepping schedulers. */
  schedulerMs: number;
  unetCalls: number;
  /** Sum over calls of the UNet batch size: 2 per image with guidance, 1 without. */
  unetBatchRows: number;
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
  const encoderHiddenStates = hiddenStates(input.embeddings, count);
  const sample: Float32Tensor = {
    dtype: 'float32',
    data: new Float32Array(rows * imageSize),
    dims: [rows, 4, latentHeight, latentWidth],
  };
  const timestep = timestepTensor(signature, rows);
  const result: Omit<DenoiseResult, 'latents'> = {
    unetStepMs: [],
    schedulerMs: 0,
    unetCalls: 0,
    unetBatchRows: 0,
  };

  for (let index = 0; index < total; index++) {
    if (signal?.aborted === true) throw cancelled(signal, index, total);
    const t = timesteps[index] ?? 0;
    let started = performance.now();
    states.forEach((state, image) => {
      const scaled = state.scheduler.scaleModelInput(state.latents, t);
      sample.data.set(scaled, image * imageSize);
      if (guided) sample.data.set(scaled, (count + image) * imageSize);
    });
    timestep.data.fill(t);
    result.schedulerMs += performance.now() - started;

    started = performance.now();
    const outputs = await unet.run({ sample, timestep, encoder_hidden_states: encoderHiddenStates }, [
      'out_sample',
    ]);
    result.unetStepMs.push(performance.now() - started);
    result.unetCalls += 1;
    result.unetBatchRows += rows;
    const prediction = outputs.out_sample;
    if (prediction?.dtype !== 'float32' || prediction.data.length !== rows * imageSize) {
      throw new SdbotError(
        'INFERENCE_FAILED',
        `${unet.file}: out_sample has shape [${prediction?.dims.join(', ') ?? ''}], expected [${sample.dims.join(', ')}]`,
      );
    }

    started = performance.now();
    states.forEach((state, image) => {
      // Fresh arrays: multistep schedulers keep earlier predictions and samples by reference.
      const noise = guided
        ? guide(prediction.data, image * imageSize, (count + image) * imageSize, imageSize, guidance)
        : prediction.data.subarray(image * imageSize, (image + 1) * imageSize);
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
