/**
 * What one `generate` call asks for, validated with the same field rules as a job on the wire, so
 * `steps: must be an integer in 1..150 (got 0)` reads the same from the CLI, Discord or a worker.
 */
import {
  DEFAULT_PROMPT_SYNTAX,
  jobSchema,
  LIMITS,
  seedVariationSchema,
  validate,
  ValidationError,
  type NoiseSource,
  type PromptSyntax,
  type SchedulerName,
} from '@sdbot/shared';
import { z } from 'zod';

/** An encoded image (PNG, JPEG, WebP...) as bytes, or the path of one. */
export type ImageInput = Uint8Array | string;

export interface GenerationRequest {
  /** May be empty (unconditional generation). */
  prompt: string;
  /** Defaults to "" (the reference's unconditional prompt). */
  negativePrompt?: string;
  /** How both prompts are read (default a1111; plain is the reference pipeline's reading). */
  syntax?: PromptSyntax;
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
  variation?: { seed: number; strength: number };
  /** Run the model's safety checker (default true). */
  safetyCheck?: boolean;
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
}

const fields = jobSchema.shape;

const requestSchema = z.object({
  prompt: fields.prompt,
  negativePrompt: fields.negativePrompt,
  syntax: fields.syntax.unwrap().default(DEFAULT_PROMPT_SYNTAX),
  seed: fields.seed,
  steps: fields.steps,
  guidance: fields.guidance,
  width: fields.width.optional(),
  height: fields.height.optional(),
  scheduler: fields.scheduler,
  rng: fields.rng,
  count: fields.count.default(1),
  strength: fields.strength,
  variation: seedVariationSchema.optional(),
  safetyCheck: z.boolean().default(true),
});

/** Validates a request; the ValidationError names every bad field. */
export function validateRequest(
  request: GenerationRequest,
  maxPixels: number = LIMITS.defaultMaxPixels,
): ValidatedRequest {
  const parsed = validate(requestSchema, {
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    syntax: request.syntax,
    seed: request.seed,
    steps: request.steps,
    guidance: request.guidance,
    width: request.width,
    height: request.height,
    scheduler: request.scheduler,
    rng: request.rng,
    count: request.count,
    strength: request.init?.strength,
    variation: request.variation,
    safetyCheck: request.safetyCheck,
  });
  const issues: { field: string; message: string }[] = [];
  if (request.init === undefined) {
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
    prompt: parsed.prompt,
    negativePrompt: parsed.negativePrompt,
    syntax: parsed.syntax,
    seed: parsed.seed,
    steps: parsed.steps,
    guidance: parsed.guidance,
    width: parsed.width,
    height: parsed.height,
    scheduler: parsed.scheduler,
    rng: parsed.rng,
    count: parsed.count,
    init:
      request.init === undefined ? undefined : { image: request.init.image, strength: parsed.strength ?? 0 },
    variation: parsed.variation,
    safetyCheck: parsed.safetyCheck,
  };
}
