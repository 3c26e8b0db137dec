/**
 * How big U, Upscale again and Upscale (Creative) make an image: the guild's factor, capped so the
 * result stays within a pixel budget and the side limit, in multiples of 8 like every job size.
 */
import { LIMITS, type GuildSettings } from '@sdbot/shared';

export const UPSCALE_DEFAULTS = {
  factor: 2,
  /** 2048 x 2048. */
  maxPixels: 2048 * 2048,
  creativeStrength: 0.35,
} as const;

export interface Size {
  width: number;
  height: number;
}

function floorTo(value: number, multiple: number): number {
  return Math.floor(value / multiple) * multiple;
}

/**
 * `width` x `height` enlarged by `factor`, or less when that would exceed `maxPixels` or the side
 * limit (aspect kept, rounded down to multiples of 8). Null when the image cannot grow at all.
 */
export function upscaleTarget(width: number, height: number, factor: number, maxPixels: number): Size | null {
  const fit = Math.min(
    factor,
    Math.sqrt(maxPixels / (width * height)),
    LIMITS.size.max / width,
    LIMITS.size.max / height,
  );
  const target = {
    width: floorTo(width * fit, LIMITS.sizeMultiple),
    height: floorTo(height * fit, LIMITS.sizeMultiple),
  };
  if (target.width <= width || target.height <= height) return null;
  return target;
}

/** The guild's upscale settings with the defaults filled in. */
export function upscaleSettings(settings: GuildSettings | null): {
  factor: number;
  maxPixels: number;
  creativeStrength: number;
} {
  return {
    factor: settings?.upscaleFactor ?? UPSCALE_DEFAULTS.factor,
    maxPixels: settings?.upscaleMaxPixels ?? UPSCALE_DEFAULTS.maxPixels,
    creativeStrength: settings?.creativeStrength ?? UPSCALE_DEFAULTS.creativeStrength,
  };
}

/** The upscaler to use: one whose scale is the factor (fewest passes), else the first online. */
export function pickUpscaler<T extends { scale: number }>(
  upscalers: readonly T[],
  factor: number,
): T | undefined {
  return upscalers.find((upscaler) => upscaler.scale === factor) ?? upscalers[0];
}
