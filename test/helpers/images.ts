/** Reading and comparing 8-bit RGB images in pipeline tests. */
import sharp from 'sharp';

export interface Rgb {
  pixels: Uint8Array;
  width: number;
  height: number;
}

/** Decodes an image file (PNG...) to RGB, HWC, 8-bit. */
export async function readRgb(path: string): Promise<Rgb> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(data), width: info.width, height: info.height };
}

export interface PixelDiff {
  max: number;
  mean: number;
}

/** Largest and mean absolute difference per 8-bit channel. */
export function pixelDiff(a: Uint8Array, b: Uint8Array): PixelDiff {
  if (a.length !== b.length) throw new Error(`images differ in size: ${a.length} vs ${b.length} samples`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs(a[i]! - b[i]!);
    if (difference > max) max = difference;
    sum += difference;
  }
  return { max, mean: sum / a.length };
}

/** Standard deviation of the samples: 0 for a flat image. */
export function pixelSpread(pixels: Uint8Array): number {
  let sum = 0;
  for (const value of pixels) sum += value;
  const mean = sum / pixels.length;
  let squares = 0;
  for (const value of pixels) squares += (value - mean) ** 2;
  return Math.sqrt(squares / pixels.length);
}
