/**
 * Reads the image an img2img job starts from and brings it to the size the VAE takes: the
 * requested size, or like the reference, each side rounded down to a multiple of 64 (Lanczos).
 */
import { LIMITS, SdbotError } from '@sdbot/shared';
import sharp from 'sharp';
import type { ImageInput } from '../request.js';

export interface RgbImage {
  /** RGB, HWC, 8-bit. */
  pixels: Uint8Array;
  width: number;
  height: number;
}

const REFERENCE_MULTIPLE = 64;

function describeInput(input: ImageInput): string {
  return typeof input === 'string' ? `init image ${input}` : `init image (${input.length} bytes)`;
}

/** Decodes, converts to RGB (alpha dropped, as PIL's convert("RGB") does) and resizes. */
export async function readInitImage(
  input: ImageInput,
  size?: { width: number; height: number },
  /** Images claiming more pixels are refused before they are decoded (SDBOT_MAX_INPUT_PIXELS). */
  maxInputPixels: number = LIMITS.defaultMaxInputPixels,
): Promise<RgbImage> {
  const what = describeInput(input);
  // Only the header is read here; the check below names the limit instead of sharp's own error.
  const metadata = await sharp(input, { limitInputPixels: false })
    .metadata()
    .catch((cause: unknown) => {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new SdbotError('IMAGE_INVALID', `${what} cannot be read: ${reason}`, { cause });
    });
  const sourceWidth = metadata.width;
  const sourceHeight = metadata.height;
  if (sourceWidth * sourceHeight > maxInputPixels) {
    throw new SdbotError(
      'IMAGE_INVALID',
      `${what} is ${sourceWidth}x${sourceHeight}, over the limit of ${maxInputPixels} pixels (SDBOT_MAX_INPUT_PIXELS)`,
    );
  }
  const width = size?.width ?? sourceWidth - (sourceWidth % REFERENCE_MULTIPLE);
  const height = size?.height ?? sourceHeight - (sourceHeight % REFERENCE_MULTIPLE);
  if (width === 0 || height === 0) {
    throw new SdbotError(
      'IMAGE_INVALID',
      `${what} is ${sourceWidth}x${sourceHeight}; img2img needs at least ${REFERENCE_MULTIPLE}x${REFERENCE_MULTIPLE} pixels`,
    );
  }
  try {
    let pipeline = sharp(input, { limitInputPixels: maxInputPixels }).toColourspace('srgb').removeAlpha();
    if (width !== sourceWidth || height !== sourceHeight) {
      pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of RGB`);
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length), width, height };
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SdbotError('IMAGE_INVALID', `${what} cannot be decoded: ${reason}`, { cause });
  }
}
