/**
 * The VAE: latents -> images (decoder) and init image -> latents (encoder, img2img). SD 1.x/2.x
 * latents are the VAE's scaled by 0.18215.
 */
import { SdbotError } from '@sdbot/shared';
import type { Tensor } from '../backend/tensor.js';
import type { InferenceModel } from '../backend/types.js';
import type { VaeEncoderSignature } from '../model-adapters.js';
import { decoderOutputToPixels, pixelsToEncoderInput } from './pixels.js';

export const LATENT_SCALE = 0.18215;
/** The reference multiplies by the Python float 1 / 0.18215, which numpy rounds to float32. */
const INVERSE_LATENT_SCALE = Math.fround(1 / LATENT_SCALE);
const LATENT_SCALE_32 = Math.fround(LATENT_SCALE);

export interface DecodedImage {
  width: number;
  height: number;
  /** RGB, HWC, 8-bit: `round(x * 255)` half to even. */
  pixels: Uint8Array;
  /** RGB, HWC, float32 in 0..1: what the safety checker's `images` input takes. */
  values: Float32Array;
}

/** The named output's data, after checking it is float32 of the expected shape. */
function floatOutput(
  model: InferenceModel,
  outputs: Record<string, Tensor>,
  name: string,
  dims: readonly number[],
): Float32Array {
  const tensor = outputs[name];
  if (tensor?.dtype !== 'float32' || tensor.dims.join() !== dims.join()) {
    throw new SdbotError(
      'INFERENCE_FAILED',
      `${model.file}: ${name} has shape [${tensor?.dims.join(', ') ?? ''}], expected [${dims.join(', ')}]`,
    );
  }
  return tensor.data;
}

/** Decodes one image's latents `[4, h, w]` (one image per call, as the reference does). */
export async function decodeLatents(
  decoder: InferenceModel,
  latents: Float32Array,
  latentHeight: number,
  latentWidth: number,
): Promise<DecodedImage> {
  const scaled = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) scaled[i] = INVERSE_LATENT_SCALE * (latents[i] ?? 0);
  const outputs = await decoder.run(
    { latent_sample: { dtype: 'float32', data: scaled, dims: [1, 4, latentHeight, latentWidth] } },
    ['sample'],
  );
  const height = latentHeight * 8;
  const width = latentWidth * 8;
  const sample = floatOutput(decoder, outputs, 'sample', [1, 3, height, width]);
  // NaN would quietly become a black image (an fp16 overflow does this); fail the job instead.
  if (!sample.every(Number.isFinite)) {
    throw new SdbotError(
      'INFERENCE_FAILED',
      `${decoder.file}: the decoded image holds NaN or infinite values (the model overflowed)`,
    );
  }
  const values = new Float32Array(width * height * 3);
  const pixels = new Uint8Array(width * height * 3);
  decoderOutputToPixels(sample, width, height, values, pixels);
  return { width, height, pixels, values };
}

/** The encoder's answer for an init image; `sampleInitLatents` turns it into scaled latents. */
export type InitLatents =
  { kind: 'sampled'; latents: Float32Array } | { kind: 'gaussian'; mean: Float32Array; std: Float32Array };

/** Encodes an 8-bit HWC RGB image whose sides are multiples of 8. */
export async function encodeImage(
  encoder: InferenceModel,
  signature: VaeEncoderSignature,
  pixels: Uint8Array,
  width: number,
  height: number,
): Promise<InitLatents> {
  const input = pixelsToEncoderInput(pixels, width, height);
  const outputs = await encoder.run(
    { sample: { dtype: 'float32', data: input, dims: [1, 3, height, width] } },
    [signature.output],
  );
  const latentHeight = height / 8;
  const latentWidth = width / 8;
  if (signature.output === 'latent_sample') {
    const latents = floatOutput(encoder, outputs, signature.output, [
      1,
      4,
      latentHeight,
      latentWidth,
    ]).slice();
    for (let i = 0; i < latents.length; i++) latents[i] = LATENT_SCALE_32 * (latents[i] ?? 0);
    return { kind: 'sampled', latents };
  }
  const parameters = floatOutput(encoder, outputs, signature.output, [1, 8, latentHeight, latentWidth]);
  const size = 4 * latentHeight * latentWidth;
  const mean = parameters.slice(0, size);
  const std = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const logVariance = Math.min(Math.max(parameters[size + i] ?? 0, -30), 20);
    std[i] = Math.exp(Math.fround(0.5 * logVariance));
  }
  return { kind: 'gaussian', mean, std };
}

/** Scaled init latents for one image; a Gaussian encoder output draws its eps from `randn`. */
export function sampleInitLatents(init: InitLatents, randn: (count: number) => Float32Array): Float32Array {
  if (init.kind === 'sampled') return init.latents;
  const eps = randn(init.mean.length);
  const latents = new Float32Array(init.mean.length);
  for (let i = 0; i < latents.length; i++) {
    const sample = Math.fround((init.mean[i] ?? 0) + Math.fround((init.std[i] ?? 0) * (eps[i] ?? 0)));
    latents[i] = LATENT_SCALE_32 * sample;
  }
  return latents;
}
