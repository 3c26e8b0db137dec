import { z } from 'zod';
import { LIMITS, rangeText } from '../limits.js';
import { capabilityName } from './capabilities.js';
import { objectRefSchema, versionField } from './common.js';
import {
  identifier,
  imageSide,
  integerIn,
  numberIn,
  oneOf,
  snowflake,
  textUpTo,
  timestamp,
} from './fields.js';

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
  source: oneOf(REQUEST_SOURCES),
  /** Null for direct messages and CLI jobs. */
  guildId: snowflake().nullable(),
  channelId: snowflake().nullable(),
  /** Discord user id, or the operator name for CLI jobs. */
  userId: textUpTo(64, { allowEmpty: false }),
  interactionId: snowflake().optional(),
  /** When the interaction token stops working; later results go to the channel instead. */
  interactionTokenExpiresAt: timestamp().optional(),
});
export type Requester = z.infer<typeof requesterSchema>;

export const sourceImageSchema = z.object({
  image: objectRefSchema,
  /** Which image of the source job this is (U/V buttons), for display. */
  index: integerIn({ min: 0, max: LIMITS.count.max - 1 }).optional(),
  /** Job that produced the source image, when it came from one. */
  jobId: identifier('job id').optional(),
});

/** Seed variation: a second noise blended into the first by spherical interpolation. */
export const seedVariationSchema = z.object({
  seed: integerIn(LIMITS.seed),
  strength: numberIn(LIMITS.strength),
});

const jobFields = {
  v: versionField,
  id: identifier('job id'),
  kind: oneOf(JOB_KINDS),
  prompt: textUpTo(LIMITS.promptMaxChars, { allowEmpty: false }),
  negativePrompt: textUpTo(LIMITS.negativePromptMaxChars, { allowEmpty: true }).default(''),
  seed: integerIn(LIMITS.seed),
  steps: integerIn(LIMITS.steps),
  guidance: numberIn(LIMITS.guidance),
  width: imageSide(),
  height: imageSide(),
  scheduler: oneOf(SCHEDULER_NAMES),
  rng: oneOf(NOISE_SOURCES).default('numpy'),
  model: identifier('model id'),
  count: integerIn(LIMITS.count),
  /** img2img / variation: how far from the source image to move (0 keeps it, 1 ignores it). */
  strength: numberIn(LIMITS.strength).optional(),
  source: sourceImageSchema.optional(),
  variation: seedVariationSchema.optional(),
  requester: requesterSchema,
  createdAt: timestamp(),
  /** Capabilities beyond what the fields imply that a worker needs for this job (rolling upgrades). */
  requires: z.array(capabilityName).max(16).optional(),
};

export interface JobSchemaOptions {
  /** Largest width x height a job may ask for (SDBOT_MAX_PIXELS). */
  maxPixels: number;
}

/** The job schema for a given pixel budget; cross-field rules name the fields involved. */
export function createJobSchema({ maxPixels }: JobSchemaOptions) {
  return z.object(jobFields).superRefine((job, ctx) => {
    if (job.width * job.height > maxPixels) {
      ctx.addIssue({
        code: 'custom',
        path: ['width'],
        message: `width x height must be at most ${maxPixels} pixels (got ${job.width}x${job.height} = ${job.width * job.height})`,
      });
    }
    const needsSource = job.kind === 'img2img' || job.kind === 'upscale';
    if (needsSource && job.source === undefined) {
      ctx.addIssue({ code: 'custom', path: ['source'], message: `is required for ${job.kind} jobs` });
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
    if (job.kind === 'txt2img' && job.source !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['source'], message: 'is not allowed for txt2img jobs' });
    }
  });
}

export const jobSchema = createJobSchema({ maxPixels: LIMITS.defaultMaxPixels });
export type GenerationJob = z.output<typeof jobSchema>;
/** What a producer may omit (defaults fill in `negativePrompt` and `rng`). */
export type GenerationJobInput = z.input<typeof jobSchema>;
