import { z } from 'zod';
import { errorCodes } from '../errors.js';
import { resultImageSchema } from './outcome.js';
import { jobSchema } from './job.js';
import { identifier, integerIn, oneOf, textUpTo, timestamp } from './fields.js';
import { versionField } from './common.js';

export const JOB_STATES = ['queued', 'started', 'progress', 'completed', 'failed', 'cancelled'] as const;
export type JobStateName = (typeof JOB_STATES)[number];

/** Where a job is, as a discriminated union on `state`. */
export const jobStatusSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('queued') }),
  z.object({ state: z.literal('started'), workerId: identifier('worker id'), startedAt: timestamp() }),
  z.object({
    state: z.literal('progress'),
    workerId: identifier('worker id'),
    step: integerIn({ min: 0, max: 10_000 }),
    total: integerIn({ min: 1, max: 10_000 }),
  }),
  z.object({
    state: z.literal('completed'),
    workerId: identifier('worker id'),
    images: z.array(resultImageSchema).min(1),
    completedAt: timestamp(),
  }),
  z.object({
    state: z.literal('failed'),
    code: oneOf(errorCodes),
    message: textUpTo(2000, { allowEmpty: false }),
    failedAt: timestamp(),
  }),
  z.object({
    state: z.literal('cancelled'),
    cancelledBy: textUpTo(64, { allowEmpty: false }),
    cancelledAt: timestamp(),
  }),
]);
export type JobStatus = z.infer<typeof jobStatusSchema>;

/**
 * A job's record in the jobs KV bucket. It keeps the job itself so any bot replica can answer
 * "where is my job" and rebuild buttons after a restart.
 */
export const jobStateRecordSchema = z.object({
  v: versionField,
  job: jobSchema,
  status: jobStatusSchema,
  /** Sequence of the job in the jobs stream; queue positions are counted from it. */
  jobStreamSeq: integerIn({ min: 1, max: Number.MAX_SAFE_INTEGER }).optional(),
  /** Sequence of the job in the backlog, where it waited for its lane's turn (fair dispatch). */
  backlogSeq: integerIn({ min: 1, max: Number.MAX_SAFE_INTEGER }).optional(),
  updatedAt: timestamp(),
});
export type JobStateRecord = z.output<typeof jobStateRecordSchema>;
