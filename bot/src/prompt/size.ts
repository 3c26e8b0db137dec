/**
 * Aspect ratios and image sizes. Sizes derived from an aspect ratio are multiples of 64 close to the
 * model's native area (512 x 512 for SD 1.x): the UNet halves the latent three times, and ONNX
 * exports are only guaranteed to accept latents that stay even at every level.
 */
import { LIMITS } from '@sdbot/shared';

export interface AspectRatio {
  readonly width: number;
  readonly height: number;
}

/** Choices offered by `/imagine aspect:`; `--ar` accepts any ratio between the extremes below. */
export const ASPECT_CHOICES = ['1:1', '3:2', '2:3', '16:9', '9:16', '4:5'] as const;

/** Ratios beyond this stretch the subject and leave one side at the minimum size. */
export const MAX_ASPECT_RATIO = 4;

/** Step of sizes derived from an aspect ratio. */
export const ASPECT_SIZE_STEP = 64;

/** Side of the square that SD 1.x was trained on; the area every aspect ratio aims for. */
export const DEFAULT_BASE_SIZE = 512;

export const ASPECT_FORMAT_HINT = 'aspect must be W:H with positive integers, e.g. 16:9';

/** Parses `16:9` (also `16x9`); a failure is a message without the value, for the caller to prefix. */
export function parseAspectRatio(
  text: string,
): { ok: true; ratio: AspectRatio } | { ok: false; error: string } {
  const match = /^(\d{1,5})\s*[:x]\s*(\d{1,5})$/i.exec(text.trim());
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (!match || width <= 0 || height <= 0) return { ok: false, error: ASPECT_FORMAT_HINT };
  const ratio = width / height;
  if (ratio > MAX_ASPECT_RATIO || ratio < 1 / MAX_ASPECT_RATIO) {
    return {
      ok: false,
      error: `aspect must be between 1:${MAX_ASPECT_RATIO} and ${MAX_ASPECT_RATIO}:1`,
    };
  }
  return { ok: true, ratio: { width, height } };
}

export interface SizeBudget {
  /** Side of the model's native square (512 for SD 1.x, 768 for SD 2.x 768-v). */
  baseSize: number;
  /** Largest width x height allowed here (bot and guild limits combined). */
  maxPixels: number;
}

/**
 * The width and height, multiples of 64 within the size limits and the pixel budget, whose ratio is
 * closest to `aspect` and whose area is closest to the base square (ratio errors weigh double:
 * a distorted frame is worse than a slightly smaller one). 16:9 at 512 gives 704 x 384.
 */
export function sizeForAspect(aspect: AspectRatio, budget: SizeBudget): { width: number; height: number } {
  const ratio = aspect.width / aspect.height;
  const targetArea = Math.min(budget.baseSize ** 2, budget.maxPixels);
  let best: { width: number; height: number; cost: number } | undefined;
  for (let height = ASPECT_SIZE_STEP; height <= LIMITS.size.max; height += ASPECT_SIZE_STEP) {
    const exact = (ratio * height) / ASPECT_SIZE_STEP;
    for (const steps of [Math.floor(exact), Math.ceil(exact)]) {
      const width = steps * ASPECT_SIZE_STEP;
      if (width < LIMITS.size.min || width > LIMITS.size.max || width * height > budget.maxPixels) continue;
      const cost =
        2 * Math.abs(Math.log(width / height / ratio)) + Math.abs(Math.log((width * height) / targetArea));
      if (best === undefined || cost < best.cost - 1e-9) best = { width, height, cost };
    }
  }
  // The smallest square always fits: maxPixels is at least 64 x 64 everywhere it is configured.
  return best === undefined
    ? { width: LIMITS.size.min, height: LIMITS.size.min }
    : { width: best.width, height: best.height };
}

/** The other side for a given side and aspect ratio, rounded to LIMITS.sizeMultiple. */
export function otherSide(side: number, aspect: AspectRatio, given: 'width' | 'height'): number {
  const exact =
    given === 'width' ? (side * aspect.height) / aspect.width : (side * aspect.width) / aspect.height;
  const rounded = Math.round(exact / LIMITS.sizeMultiple) * LIMITS.sizeMultiple;
  return Math.min(LIMITS.size.max, Math.max(LIMITS.size.min, rounded));
}
