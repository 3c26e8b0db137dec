/**
 * transformers' CLIPImageProcessor as the reference safety checker uses it: resize the shortest
 * side with Pillow's bicubic filter, center crop, scale to 0..1, normalize per channel, CHW.
 */
import { resizeBicubic, type Image8 } from './bicubic.js';

export interface ClipImageConfig {
  /** Target of the shortest side. */
  shortestEdge: number;
  cropHeight: number;
  cropWidth: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** transformers' `get_resize_output_image_size(..., default_to_square=False)`: [width, height]. */
function resizedSize(width: number, height: number, shortestEdge: number): [number, number] {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((shortestEdge * long) / short);
  return width <= height ? [shortestEdge, newLong] : [newLong, shortestEdge];
}

/**
 * Writes one RGB image's CLIP input, `[3, cropHeight, cropWidth]` float32, into `out`. Arithmetic is
 * rounded to float32 where numpy computes in float32, so the values match the reference's.
 */
export function clipPreprocess(image: Image8, config: ClipImageConfig, out: Float32Array): void {
  const [width, height] = resizedSize(image.width, image.height, config.shortestEdge);
  const resized =
    width === image.width && height === image.height ? image : resizeBicubic(image, width, height);
  const { cropWidth, cropHeight } = config;
  const top = Math.floor((height - cropHeight) / 2);
  const left = Math.floor((width - cropWidth) / 2);
  const plane = cropWidth * cropHeight;
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(config.mean[c] ?? 0);
    const std = Math.fround(config.std[c] ?? 1);
    for (let y = 0; y < cropHeight; y++) {
      const row = (top + y) * width;
      for (let x = 0; x < cropWidth; x++) {
        const value = resized.pixels[(row + left + x) * resized.channels + c] ?? 0;
        const scaled = Math.fround(value * (1 / 255));
        out[c * plane + y * cropWidth + x] = Math.fround(scaled - mean) / std;
      }
    }
  }
}
