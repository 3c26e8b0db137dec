/**
 * Image files in and out of the worker's RGB (HWC, uint8) form, through sharp. Whatever the file
 * holds (grey, palette, alpha, 16-bit), it becomes 8-bit sRGB with the alpha channel dropped.
 */
import sharp from 'sharp';
import { SdbotError } from '@sdbot/shared';

export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** Decodes an image file (path or bytes); `label` names it in the error when it cannot be read. */
export async function readRgbImage(
  source: string | Uint8Array,
  label = typeof source === 'string' ? source : 'image',
): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(source)
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return {
      rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SdbotError('IMAGE_INVALID', `${label}: not a readable image (${reason})`, { cause: error });
  }
}
