/**
 * From a source image to an upscaled, finished PNG: the model runs as many passes as it takes to
 * reach the target size (a 2x model twice for 4x), Lanczos brings the result to the exact target
 * (a 4x model asked for 2x, or a size capped by the server), then the invisible watermark is
 * embedded again (upscaling smears the old one) and verified by decoding, and the `parameters`
 * text is carried over with the upscaler added as A1111's extras tab writes it.
 */
import sharp from 'sharp';
import { SdbotError, type Logger } from '@sdbot/shared';
import { encodePng } from '../provenance.js';
import { embedWatermark } from '../watermark/index.js';
import type { RgbPixels, UpscaleOptions, Upscaler } from './upscaler.js';

/** More passes than this would mean a target far beyond any size a job may ask for. */
const MAX_PASSES = 3;

export interface TargetSize {
  width: number;
  height: number;
}

export interface EnlargeProgress {
  /** Tiles done and total over every pass. */
  onTile?: (done: number, total: number) => void;
}

async function resizeRgb(image: RgbPixels, target: TargetSize): Promise<RgbPixels> {
  const { data } = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(target.width, target.height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), ...target };
}

/** Passes of a model with `scale` needed to reach the target from the source (at least one). */
export function passesFor(source: TargetSize, target: TargetSize, scale: number): number {
  let passes = 1;
  let width = source.width * scale;
  let height = source.height * scale;
  while ((width < target.width || height < target.height) && passes < MAX_PASSES) {
    passes += 1;
    width *= scale;
    height *= scale;
  }
  return passes;
}

/**
 * Upscales `image` to exactly `target` with `upscaler`, or with Lanczos alone when there is none
 * (a Creative upscale on a worker without a super-resolution model).
 */
export async function enlarge(
  image: RgbPixels,
  target: TargetSize,
  upscaler: Upscaler | undefined,
  options: Omit<UpscaleOptions, 'onTile'> & EnlargeProgress,
): Promise<RgbPixels> {
  if (target.width < image.width || target.height < image.height) {
    throw new SdbotError(
      'INVALID_INPUT',
      `upscale target ${target.width}x${target.height} is smaller than the ${image.width}x${image.height} source`,
    );
  }
  if (upscaler === undefined) return resizeRgb(image, target);
  const passes = passesFor(image, target, upscaler.info.scale);
  let current = image;
  for (let pass = 0; pass < passes; pass += 1) {
    current = await upscaler.upscale(current, {
      ...options,
      onTile: (done, total) => options.onTile?.(pass * total + done, passes * total),
    });
  }
  if (current.width === target.width && current.height === target.height) return current;
  return resizeRgb(current, target);
}

/** `, Postprocess upscale by: 2, Postprocess upscaler: x4` added to the source's infotext. */
export function upscaledParameters(source: string | null, factor: number, upscalerName: string): string {
  const added = `Postprocess upscale by: ${factor}, Postprocess upscaler: ${upscalerName}`;
  if (source === null || source.trim() === '') return added;
  return `${source.trimEnd()}, ${added}`;
}

/** The `Seed: N` of an infotext, or 0 when it names none. */
export function seedOfParameters(parameters: string | null): number {
  const seed = /(?:^|, )Seed: (\d+)(?:,|$)/m.exec(parameters?.split('\n').at(-1) ?? '')?.[1];
  const value = seed === undefined ? 0 : Number(seed);
  return Number.isSafeInteger(value) && value <= 2 ** 32 - 1 ? value : 0;
}

export interface FinishedImage {
  png: Buffer;
  watermarked: boolean;
  width: number;
  height: number;
}

export interface FinishOptions {
  /** Watermark payload; undefined: no watermark (SDBOT_WATERMARK off). */
  watermarkText: string | undefined;
  parameters: string;
  logger?: Logger;
}

/** Watermark (verified: the decoder must read every bit back) and PNG with the parameters text. */
export async function finishUpscaled(image: RgbPixels, options: FinishOptions): Promise<FinishedImage> {
  let rgb = image.rgb;
  let watermarked = false;
  if (options.watermarkText !== undefined) {
    const marked = embedWatermark(rgb, image.width, image.height, options.watermarkText);
    if (marked.watermarked && marked.bitErrors > 0) {
      options.logger?.warn(
        { bitErrors: marked.bitErrors, width: image.width, height: image.height },
        'watermark:unverified',
      );
    }
    rgb = marked.rgb;
    watermarked = marked.watermarked && marked.bitErrors === 0;
  }
  const png = await encodePng(rgb, image.width, image.height, options.parameters);
  return { png, watermarked, width: image.width, height: image.height };
}
