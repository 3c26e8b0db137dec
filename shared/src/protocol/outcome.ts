import { z } from 'zod';
import { errorCodes } from '../errors.js';
import { LIMITS } from '../limits.js';
import { objectRefSchema, versionField } from './common.js';
import {
  flag,
  identifier,
  imageSide,
  integerIn,
  nonNegativeInteger,
  nonNegativeNumber,
  oneOf,
  textUpTo,
  timestamp,
} from './fields.js';

export const resultImageSchema = z.object({
  image: objectRefSchema,
  seed: integerIn(LIMITS.seed),
  /** Flagged by the safety checker; `image` is then the filtered placeholder, never the original. */
  nsfw: flag(),
  watermarked: flag(),
  width: imageSide(),
  height: imageSide(),
});
export type ResultImage = z.infer<typeof resultImageSchema>;

export const timingsSchema = z.object({
  /** Time between submission and a worker starting the job. */
  queuedMs: nonNegativeNumber(),
  /** Time the worker spent on the job. */
  totalMs: nonNegativeNumber(),
  /** Per-stage durations (tokenize, textEncoder, unet, vae, safety, watermark, encode, upload). */
  stages: z.record(z.string(), nonNegativeNumber()),
});

export const jobResultSchema = z.object({
  v: versionField,
  type: z.literal('result'),
  jobId: identifier('job id'),
  workerId: identifier('worker id'),
  model: identifier('model id'),
  images: z.array(resultImageSchema).min(1).max(LIMITS.count.max),
  /** Prompt tokens beyond the text encoder's window that were dropped. */
  truncatedTokens: nonNegativeInteger().default(0),
  /** The same for the negative prompt (absent: none). */
  negativeTruncatedTokens: nonNegativeInteger().optional(),
  /** A1111 syntax: the most 75-token chunks the model read per prompt (cut notices quote it). */
  promptChunkLimit: integerIn({ min: 1, max: LIMITS.promptMaxChunks }).optional(),
  timings: timingsSchema,
  completedAt: timestamp(),
});
export type JobResult = z.output<typeof jobResultSchema>;

export const jobFailureSchema = z.object({
  v: versionField,
  type: z.literal('failure'),
  jobId: identifier('job id'),
  /** Absent when the failure was decided before any worker took the job. */
  workerId: identifier('worker id').optional(),
  code: oneOf(errorCodes),
  retryable: flag(),
  message: textUpTo(2000, { allowEmpty: false }),
  failedAt: timestamp(),
});
export type JobFailure = z.infer<typeof jobFailureSchema>;

/** What lands on the results stream for a job: exactly one of these per job id. */
export const jobOutcomeSchema = z.discriminatedUnion('type', [jobResultSchema, jobFailureSchema]);
export type JobOutcome = z.output<typeof jobOutcomeSchema>;
