/**
 * The safety checker: CLIP-preprocessed pixels and the float images of a whole job in one batch;
 * the graph applies the concept thresholds itself and answers one flag per image.
 */
import { SdbotError } from '@sdbot/shared';
import type { InferenceModel } from '../backend/types.js';
import { clipPreprocess, type ClipImageConfig } from '../image/clip-preprocess.js';
import type { DecodedImage } from './vae.js';

/** Returns `has_nsfw_concepts` for each image (all images share one size). */
export async function checkSafety(
  checker: InferenceModel,
  config: ClipImageConfig,
  images: readonly DecodedImage[],
): Promise<boolean[]> {
  const first = images[0];
  if (first === undefined) return [];
  const { width, height } = first;
  const clipSize = 3 * config.cropHeight * config.cropWidth;
  const clipInput = new Float32Array(images.length * clipSize);
  const values = new Float32Array(images.length * width * height * 3);
  images.forEach((image, index) => {
    clipPreprocess(
      { pixels: image.pixels, width, height, channels: 3 },
      config,
      clipInput.subarray(index * clipSize, (index + 1) * clipSize),
    );
    values.set(image.values, index * width * height * 3);
  });
  const { has_nsfw_concepts: flags } = await checker.run(
    {
      clip_input: {
        dtype: 'float32',
        data: clipInput,
        dims: [images.length, 3, config.cropHeight, config.cropWidth],
      },
      images: { dtype: 'float32', data: values, dims: [images.length, height, width, 3] },
    },
    ['has_nsfw_concepts'],
  );
  if (flags?.dtype !== 'bool' || flags.data.length !== images.length) {
    throw new SdbotError(
      'INFERENCE_FAILED',
      `${checker.file}: has_nsfw_concepts should hold ${images.length} booleans, got [${flags?.dims.join(', ') ?? ''}] ${flags?.dtype ?? 'nothing'}`,
    );
  }
  return Array.from(flags.data, (flag) => flag !== 0);
}
