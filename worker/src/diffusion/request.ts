/**
 * What one `generate` call asks for, validated with the same field rules as a job on the wire, so
 * `steps: must be an integer in 1..150 (got 0)` reads the same from the CLI, Discord or a worker.
 */
import {
  DEFAULT_PROMPT_SYNTAX,
  GENERATION_FIELDS,
  LIMITS,
  validate,
  ValidationError,
  type NoiseSource,
  type PromptSyntax,
  type SchedulerName,
} from '@sdbot/shared';
import { z } from 'zod';

/** An encoded image (PNG, JPEG, WebP...) as bytes, or the path of one. */
export type ImageInput = Uint8Array | string;

export interface PipelineRequest {
  /** May be empty (unconditional generation). */
  prompt: string;
  /** Defaults to "" (the reference's unconditional prompt). */
  negativePrompt?: string;
  /** How both prompts are read (default a1111; plain is the reference pipeline's reading). */
  syntax?: PromptSyntax | undefined;
  /** Image i of the batch uses seed + i (mod 2^32) with its own generator. */
  seed: number;
  steps: number;
  /** <= 1 turns classifier-free guidance off (one UNet row per image instead of two). */
  guidance: number;
  /** Required for txt2img; img2img defaults to the init image's size rounded down to 64. */
  width?: number;
  height?: number;
  scheduler: SchedulerName;
  rng?: NoiseSource;
  count?: number;
  /** img2img: start from this image; strength 0 keeps it, 1 ignores it. */
  init?: { image: ImageInput; strength: number };
  /** Blend a second seed's initial noise into the first one's (0: plain seed, 1: the other seed). */
  variation?: { seed: number; strength: number } | undefined;
  /** Run the model's safety checker (default true). */
  safetyCheck?: boolean;
  /** Keep the pixels of flagged images instead of blanking them (default false): they are still marked. */
  keepFlagged?: boolean;
}

export interface ValidatedRequest {
  prompt: string;
  negativePrompt: string;
  syntax: PromptSyntax;
  seed: number;
  steps: number;
  guidance: number;
  width: number | undefined;
  height: number | undefined;
  scheduler: SchedulerName;
  rng: NoiseSource;
  count: number;
  init: { image: ImageInput; strength: number } | undefined;
  variation: { seed: number; strength: number } | undefined;
  safetyCheck: boolean;
  keepFlagged: boolean;
}

const fields = GENERATION_FIELDS;

/** A job's generation fields; the size may follow an init image and one image is the default. */
const requestSchema = z.object({
  ...fields,
  syntax: fields.syntax.unwrap().default(DEFAULT_PROMPT_SYNTAX),
  width: fields.width.optional(),
  height: fields.height.optional(),
  count: fields.count.default(1),
  safetyCheck: z.boolean().default(true),
  keepFlagged: z.boolean().default(false),
});

/** Validates a request; the ValidationError names every bad field. */
export function validateRequest(
  request: PipelineRequest,
  maxPixels: number = LIMITS.defaultMaxPixels,
): ValidatedRequest {
  const { init, ...rest } = request;
  const { strength, ...parsed } = validate(requestSchema, { ...rest, strength: init?.strength });
  const issues: { field: string; message: string }[] = [];
  if (init === undefined) {
    if (parsed.width === undefined)
      issues.push({ field: 'width', message: 'is required without an init image' });
    if (parsed.height === undefined)
      issues.push({ field: 'height', message: 'is required without an init image' });
  } else if ((parsed.width === undefined) !== (parsed.height === undefined)) {
    issues.push({
      field: parsed.width === undefined ? 'width' : 'height',
      message: 'give both width and height, or neither',
    });
  }
  if (parsed.width !== undefined && parsed.height !== undefined && parsed.width * parsed.height > maxPixels) {
    issues.push({
      field: 'width',
      message: `width x height must be at most ${maxPixels} pixels (got ${parsed.width}x${parsed.height} = ${parsed.width * parsed.height})`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    ...parsed,
    width: parsed.width,
    height: parsed.height,
    init: init === undefined ? undefined : { image: init.image, strength: strength ?? 0 },
    variation: parsed.variation,
  };
}
