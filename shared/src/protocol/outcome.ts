import { z } from 'zod';
import { errorCodes } from '../errors.js';
import { LIMITS } from '../limits.js';
import { objectRefSchema, versionField } from './common.js';
import * as field from './fields.js';

export const resultImageSchema = z.object({
  image: objectRefSchema,
  seed: field.integerIn(LIMITS.seed),
  /** Flagged by the safety checker; `image` is then the filtered placeholder, never the original. */
  nsfw: field.flag(),
  watermarked: field.flag(),
  // Images that exist already: a worker from before sizes had to be multiples of 64 may still
  // deliver one during a rolling upgrade.
  width: field.imageSide(LIMITS.resultSizeMultiple),
  height: field.imageSide(LIMITS.resultSizeMultiple),
});
export type ResultImage = z.infer<typeof resultImageSchema>;

export const timingsSchema = z.object({
  /** Time between submission and a worker starting the job. */
  queuedMs: field.nonNegativeNumber(),
  /** Time the worker spent on the job. */
  totalMs: field.nonNegativeNumber(),
  /** Per-stage durations (tokenize, textEncoder, unet, vae, safety, watermark, encode, upload). */
  stages: z.record(z.string(), field.nonNegativeNumber()),
});

export const jobResultSchema = z.object({
  v: versionField,
  type: z.literal('result'),
  jobId: field.identifier('job id'),
  workerId: field.identifier('worker id'),
  model: field.identifier('model id'),
  images: z.array(resultImageSchema).min(1).max(LIMITS.count.max),
  /** Prompt tokens beyond the text encoder's window that were dropped. */
  truncatedTokens: field.nonNegativeInteger().default(0),
  /** The same for the negative prompt (absent: none). */
  negativeTruncatedTokens: field.nonNegativeInteger().optional(),
  /** A1111 syntax: the most 75-token chunks the model read per prompt (cut notices quote it). */
  promptChunkLimit: field.integerIn({ min: 1, max: LIMITS.promptMaxChunks }).optional(),
  timings: timingsSchema,
  completedAt: field.timestamp(),
});
export type JobResult = z.output<typeof jobResultSchema>;

export const jobFailureSchema = z.object({
  v: versionField,
  type: z.literal('failure'),
  jobId: field.identifier('job id'),
  /** Absent when the failure was decided before any worker took the job. */
  workerId: field.identifier('worker id').optional(),
  code: field.oneOf(errorCodes),
  retryable: field.flag(),
  message: field.textUpTo(2000, { allowEmpty: false }),
  failedAt: field.timestamp(),
});
export type JobFailure = z.infer<typeof jobFailureSchema>;

/** What lands on the results stream for a job: exactly one of these per job id. */
export const jobOutcomeSchema = z.discriminatedUnion('type', [jobResultSchema, jobFailureSchema]);
export type JobOutcome = z.output<typeof jobOutcomeSchema>;
