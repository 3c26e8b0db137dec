/**
 * The safety checker: CLIP-preprocessed pixels plus the float image in, one flag per image out;
 * the graph applies the concept thresholds itself.
 *
 * Images go through one at a time, as in the reference: the exported graph blanks flagged images
 * with `images[has_nsfw_concepts] = 0`, traced as a Where that broadcasts the `[B]` flags against
 * the channel axis of `[B, H, W, 3]`, so a batch of 2 or 4 fails and a batch of 3 misaligns.
 */
import { SdbotError } from '@sdbot/shared';
import type { InferenceModel } from '../backend/types.js';
import { clipPreprocess, type ClipImageConfig } from '../image/clip-preprocess.js';
import type { DecodedImage } from './vae.js';

/** Returns `has_nsfw_concepts` for each image. */
export async function checkSafety(
  checker: InferenceModel,
  config: ClipImageConfig,
  images: readonly DecodedImage[],
): Promise<boolean[]> {
  const clipInput = new Float32Array(3 * config.cropHeight * config.cropWidth);
  const flags: boolean[] = [];
  for (const image of images) {
    const { width, height } = image;
    clipPreprocess({ pixels: image.pixels, width, height, channels: 3 }, config, clipInput);
    const { has_nsfw_concepts: flag } = await checker.run(
      {
        clip_input: { dtype: 'float32', data: clipInput, dims: [1, 3, config.cropHeight, config.cropWidth] },
        images: { dtype: 'float32', data: image.values, dims: [1, height, width, 3] },
      },
      ['has_nsfw_concepts'],
    );
    if (flag?.dtype !== 'bool' || flag.data.length !== 1) {
      throw new SdbotError(
        'INFERENCE_FAILED',
        `${checker.file}: has_nsfw_concepts should be one boolean, got ${flag?.dtype ?? 'nothing'} [${flag?.dims.join(', ') ?? ''}]`,
      );
    }
    flags.push(flag.data[0] !== 0);
  }
  return flags;
}
