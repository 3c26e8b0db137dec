/**
 * Turns a member's image into an img2img source: decoded with a pixel limit (a small file can
 * declare a huge canvas), the first frame of an animated image, resized to the job's pixel area with
 * the image's own aspect ratio (sides multiples of 64, within the caps), and stored as PNG.
 */
import sharp, { type Metadata } from 'sharp';
import { RequestRefusedError } from '../errors.js';
import { sizeForAspect } from '../prompt/size.js';

export interface SourceImageOptions {
  /** Largest canvas decoded at all (SDBOT_MAX_INPUT_PIXELS). */
  maxInputPixels: number;
  /** The job's area: the source is resized to about this many pixels. */
  targetPixels: number;
  /** Largest width x height the job may have here. */
  maxPixels: number;
}

export interface SourceImage {
  png: Buffer;
  width: number;
  height: number;
  /** True when the upload had several frames and the first was used. */
  firstFrameOnly: boolean;
}

function refuse(message: string): RequestRefusedError {
  return new RequestRefusedError('attachment-refused', message);
}

export async function prepareSourceImage(
  name: string,
  bytes: Buffer,
  options: SourceImageOptions,
): Promise<SourceImage> {
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: options.maxInputPixels }).metadata();
  } catch {
    throw refuse(`${name} is not an image the bot can read; attach a PNG, JPEG, WebP or GIF.`);
  }
  const { width, height, format } = metadata;
  if (!['png', 'jpeg', 'webp', 'gif'].includes(format)) {
    throw refuse(
      `${name} is a ${format} image, which the bot does not take; attach a PNG, JPEG, WebP or GIF.`,
    );
  }
  if (width * height > options.maxInputPixels) {
    throw refuse(
      `${name} is ${width}x${height}, over the ${options.maxInputPixels.toLocaleString('en-US')} pixels the bot decodes.`,
    );
  }
  const size = sizeForAspect(
    { width, height },
    { baseSize: Math.round(Math.sqrt(options.targetPixels)), maxPixels: options.maxPixels },
  );
  try {
    const png = await sharp(bytes, { limitInputPixels: options.maxInputPixels, pages: 1 })
      .rotate()
      .removeAlpha()
      .resize(size.width, size.height, { fit: 'cover' })
      .png()
      .toBuffer();
    return { png, ...size, firstFrameOnly: (metadata.pages ?? 1) > 1 };
  } catch {
    throw refuse(`${name} could not be decoded; it may be damaged. Try another image.`);
  }
}
