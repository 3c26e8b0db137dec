/**
 * Image files in and out of the worker's RGB (HWC, uint8) form, through sharp. Whatever the file
 * holds (grey, palette, alpha, 16-bit), it becomes 8-bit sRGB with the alpha channel dropped.
 * Every image is measured from its header before it is decoded: a small file can claim billions
 * of pixels (a 746 KB PNG of 16000x16000 costs gigabytes to decode).
 */
import sharp from 'sharp';
import { LIMITS, SdbotError } from '@sdbot/shared';

export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface ImageReadOptions {
  /** Names the image in errors. */
  label?: string;
  /** SDBOT_MAX_INPUT_PIXELS: a larger image is refused before it is decoded. */
  maxPixels?: number;
}

/**
 * Reads only the header of an image and refuses it (IMAGE_INVALID) when it is not an image or
 * holds more than `maxPixels` pixels; returns its size.
 */
export async function checkImagePixels(
  source: string | Uint8Array,
  {
    label = typeof source === 'string' ? source : 'image',
    maxPixels = LIMITS.defaultMaxInputPixels,
  }: ImageReadOptions = {},
): Promise<{ width: number; height: number }> {
  let metadata;
  try {
    // Only the header is read here, so sharp's own limit is off: the check below names the rule.
    metadata = await sharp(source, { limitInputPixels: false }).metadata();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SdbotError('IMAGE_INVALID', `${label}: not a readable image (${reason})`, { cause: error });
  }
  const { width, height } = metadata;
  if (width * height > maxPixels) {
    throw new SdbotError(
      'IMAGE_INVALID',
      `${label} is ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels} (SDBOT_MAX_INPUT_PIXELS)`,
    );
  }
  return { width, height };
}

/** Decodes an image file (path or bytes) after checking its size; errors name it. */
/** `options` may be just the label, as older callers pass it. */
export async function readRgbImage(
  source: string | Uint8Array,
  labelOrOptions: string | ImageReadOptions = {},
): Promise<RgbImage> {
  const options = typeof labelOrOptions === 'string' ? { label: labelOrOptions } : labelOrOptions;
  const label = options.label ?? (typeof source === 'string' ? source : 'image');
  const maxPixels = options.maxPixels ?? LIMITS.defaultMaxInputPixels;
  await checkImagePixels(source, { label, maxPixels });
  try {
    const { data, info } = await sharp(source, { limitInputPixels: maxPixels })
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
