/**
 * What one `generate` call asks for, validated with the same field rules as a job on the wire, so
 * `steps: must be an integer in 1..150 (got 0)` reads the same from the CLI, Discord or a worker.
 */
import { DEFAULT_PROMPT_SYNTAX, GENERATION_FIELDS, LIMITS, validate, ValidationError } from '@sdbot/shared';
import { z } from 'zod';

/** An encoded image (PNG, JPEG, WebP...) as bytes, or the path of one. */
export type ImageInput = Uint8Array | string;

const fields = GENERATION_FIELDS;

/**
 * A job's generation fields (GENERATION_FIELDS: the prompt may be empty, for unconditional
 * generation; image i of a batch uses seed + i; guidance <= 1 turns classifier-free guidance off),
 * except that both prompts are read as `syntax` says (default a1111; plain is the reference
 * pipeline's reading), the size may follow an init image (rounded down to 64) and one image is the
 * default.
 */
const requestSchema = z.object({
  ...fields,
  syntax: fields.syntax.unwrap().default(DEFAULT_PROMPT_SYNTAX),
  width: fields.width.optional(),
  height: fields.height.optional(),
  count: fields.count.default(1),
  /** Run the model's safety checker. */
  safetyCheck: z.boolean().default(true),
  /** Keep the pixels of flagged images instead of blanking them: they are still marked. */
  keepFlagged: z.boolean().default(false),
});

/** img2img: start from this image; strength 0 keeps it, 1 ignores it. */
export interface InitImage {
  image: ImageInput;
  strength: number;
}

/** What one `generate` call asks for; `strength` comes with the init image. */
export type PipelineRequest = Omit<z.input<typeof requestSchema>, 'strength'> & { init?: InitImage };

/** A request with its defaults filled in; width and height stay undefined to follow the init image. */
export type ValidatedRequest = Omit<
  z.output<typeof requestSchema>,
  'strength' | 'width' | 'height' | 'variation'
> & {
  width: number | undefined;
  height: number | undefined;
  variation: z.output<typeof requestSchema>['variation'];
  init: InitImage | undefined;
};

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
