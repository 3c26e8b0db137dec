import { z } from 'zod';
import { LIMITS, rangeText } from '../limits.js';
import { PROMPT_SYNTAXES } from '../prompt-syntax.js';
import { capabilityName } from './capabilities.js';
import { objectRefSchema, versionField } from './common.js';
import * as field from './fields.js';

export const JOB_KINDS = ['txt2img', 'img2img', 'variation', 'upscale'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Scheduler names accepted on the wire; the worker maps each to diffusers' math. */
export const SCHEDULER_NAMES = [
  'pndm',
  'ddim',
  'euler',
  'euler_a',
  'lms',
  'heun',
  'dpmpp_2m',
  'dpmpp_2m_karras',
  'unipc',
  'lcm',
] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** numpy: what diffusers' ONNX pipeline draws; torch: what its PyTorch pipelines and most UIs draw. */
export const NOISE_SOURCES = ['numpy', 'torch'] as const;
export type NoiseSource = (typeof NOISE_SOURCES)[number];

export const REQUEST_SOURCES = ['discord', 'cli'] as const;

export const requesterSchema = z.object({
  source: field.oneOf(REQUEST_SOURCES),
  /** Null for direct messages and CLI jobs. */
  guildId: field.snowflake().nullable(),
  channelId: field.snowflake().nullable(),
  /** Discord user id, or the operator name for CLI jobs. */
  userId: field.textUpTo(64, { allowEmpty: false }),
  interactionId: field.snowflake().optional(),
  /** When the interaction token stops working; later results go to the channel instead. */
  interactionTokenExpiresAt: field.timestamp().optional(),
});
export type Requester = z.infer<typeof requesterSchema>;

export const sourceImageSchema = z.object({
  image: objectRefSchema,
  /** Which image of the source job this is (U/V buttons), for display. */
  index: field.integerIn({ min: 0, max: LIMITS.count.max - 1 }).optional(),
  /** Job that produced the source image, when it came from one. */
  jobId: field.identifier('job id').optional(),
});

/** Seed variation: a second noise blended into the first by spherical interpolation. */
export const seedVariationSchema = z.object({
  seed: field.integerIn(LIMITS.seed),
  strength: field.numberIn(LIMITS.strength),
});

/**
 * What the worker does with images the safety checker flags: `replace` them with a placeholder (the
 * default, and what a worker that predates the field does), or `allow` them back intact but marked,
 * for a server that opted in and a job from one of its age-restricted channels. Absent: `replace`.
 */
export const NSFW_HANDLING = ['replace', 'allow'] as const;
export type NsfwHandling = (typeof NSFW_HANDLING)[number];

/** Upscale factors U and Upscale again offer (per-server `upscale-factor`). */
export const UPSCALE_FACTORS = [2, 4] as const;

/**
 * Upscale (Creative), a hires fix on an img2img job: the worker first enlarges the source to the
 * job's size with `upscaler` when it serves it (Lanczos when it does not), then runs img2img.
 */
export const hiresSchema = z.object({
  upscaler: field.identifier('upscaler id').optional(),
  factor: z.union(UPSCALE_FACTORS.map((factor) => z.literal(factor))),
});
export type Hires = z.output<typeof hiresSchema>;

const baseFields = {
  v: versionField,
  id: field.identifier('job id'),
  model: field.identifier('model id'),
  requester: requesterSchema,
  createdAt: field.timestamp(),
  nsfw: field.oneOf(NSFW_HANDLING).optional(),
  /** Capabilities beyond what the fields imply that a worker needs for this job (rolling upgrades). */
  requires: z.array(capabilityName).max(16).optional(),
};

/**
 * What a diffusion job asks for, one schema per field. Every producer (slash options, prompt flags,
 * `sdbot imagine`, `sdbot generate`) checks its values with these, so errors read the same.
 */
export const GENERATION_FIELDS = {
  /** May be empty: unconditional generation, as in diffusers. */
  prompt: field.textUpTo(LIMITS.promptMaxChars, { allowEmpty: true }),
  negativePrompt: field.textUpTo(LIMITS.negativePromptMaxChars, { allowEmpty: true }).default(''),
  /** How the worker reads both prompts; absent (producers older than the field): plain. */
  syntax: field.oneOf(PROMPT_SYNTAXES).optional(),
  seed: field.integerIn(LIMITS.seed),
  steps: field.integerIn(LIMITS.steps),
  /** Classifier-free guidance scale (A1111's "CFG scale", the `--cfg` flag). */
  guidance: field.numberIn(LIMITS.guidance),
  width: field.imageSide(),
  height: field.imageSide(),
  scheduler: field.oneOf(SCHEDULER_NAMES),
  rng: field.oneOf(NOISE_SOURCES).default('numpy'),
  count: field.integerIn(LIMITS.count),
  /** img2img / variation: how far from the source image to move (0 keeps it, 1 ignores it). */
  strength: field.numberIn(LIMITS.strength).optional(),
  variation: seedVariationSchema.optional(),
};

/** Every field a producer sets, for checking options and flags one by one. */
export const JOB_FIELDS = { model: baseFields.model, ...GENERATION_FIELDS };

/** A source image the job kind cannot do without; its absence names the kind. */
function requiredSource(kind: JobKind) {
  return z.object(sourceImageSchema.shape, {
    error: (issue) => (issue.input === undefined ? `is required for ${kind} jobs` : undefined),
  });
}

const txt2imgJob = z.object({
  ...baseFields,
  kind: z.literal('txt2img'),
  ...GENERATION_FIELDS,
  source: z.never({ error: 'is not allowed for txt2img jobs' }).optional(),
});

const img2imgJob = z.object({
  ...baseFields,
  kind: z.literal('img2img'),
  ...GENERATION_FIELDS,
  source: requiredSource('img2img'),
  hires: hiresSchema.optional(),
});

/** V buttons: img2img from a result image, or (without a source) a seed variation. */
const variationJob = z.object({
  ...baseFields,
  kind: z.literal('variation'),
  ...GENERATION_FIELDS,
  source: sourceImageSchema.optional(),
});

/**
 * Enlarges a result image with the super-resolution model `model` (its queue) to `width` x
 * `height` (absent: by the model's own scale); it needs no prompt, steps or seed. Bounded by the
 * side limit, not the pixel budget: no diffusion runs on it.
 */
const upscaleJob = z.object({
  ...baseFields,
  kind: z.literal('upscale'),
  source: requiredSource('upscale'),
  // No UNet runs on an upscale: the VAE's multiple of 8 is enough.
  width: field.imageSide(LIMITS.resultSizeMultiple).optional(),
  height: field.imageSide(LIMITS.resultSizeMultiple).optional(),
});

const JOB_VARIANTS = [txt2imgJob, img2imgJob, variationJob, upscaleJob] as const;

export interface JobSchemaOptions {
  /** Largest width x height a job may ask for (SDBOT_MAX_PIXELS). */
  maxPixels: number;
}

type AnyJob = z.output<(typeof JOB_VARIANTS)[number]>;

/** The job schema for a given pixel budget; cross-field rules name the fields involved. */
export function createJobSchema({ maxPixels }: JobSchemaOptions) {
  return z
    .discriminatedUnion('kind', JOB_VARIANTS, {
      // The union's own issue is the unknown kind; each variant reports its fields itself.
      error: (issue) =>
        `must be one of ${JOB_KINDS.join(', ')} (got ${field.describeValue((issue.input as { kind?: unknown } | undefined)?.kind)})`,
    })
    .superRefine((job: AnyJob, ctx) => {
      if (job.kind === 'upscale') return;
      if (job.width * job.height > maxPixels) {
        ctx.addIssue({
          code: 'custom',
          path: ['width'],
          message: `width x height must be at most ${maxPixels} pixels (got ${job.width}x${job.height} = ${job.width * job.height})`,
        });
      }
      if (job.kind === 'variation' && job.source === undefined && job.variation === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['source'],
          message: 'a variation needs a source image or a seed variation (variation.seed)',
        });
      }
      if (job.source !== undefined && job.strength === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['strength'],
          message: `is required with a source image (a number in ${rangeText(LIMITS.strength)})`,
        });
      }
    });
}

/** Every job on the wire, a union by `kind`. */
export const jobSchema = createJobSchema({ maxPixels: LIMITS.defaultMaxPixels });
export type Job = z.output<typeof jobSchema>;
/** What a producer may omit (defaults fill in `negativePrompt` and `rng`). */
export type JobInput = z.input<typeof jobSchema>;
/** The kinds that run the diffusion pipeline: they have a prompt, steps and seeds. */
export type GenerationJob = Exclude<Job, { kind: 'upscale' }>;
export type GenerationJobInput = Exclude<JobInput, { kind: 'upscale' }>;
export type UpscaleJob = Extract<Job, { kind: 'upscale' }>;
/** The generation parameters of a job, without who asked and when. */
export type GenerationParams = Pick<GenerationJob, keyof typeof GENERATION_FIELDS>;

/** True for the kinds that run the diffusion pipeline; works on jobs and on drafts. */
export function isGenerationJob<T extends { kind: JobKind }>(job: T): job is Exclude<T, { kind: 'upscale' }> {
  return job.kind !== 'upscale';
}
