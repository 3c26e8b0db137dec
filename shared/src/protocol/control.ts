import { z } from 'zod';
import { errorCodes } from '../errors.js';
import { versionField } from './common.js';
import { identifier, nonNegativeInteger, oneOf, textUpTo, timestamp } from './fields.js';

/** Asks whichever worker runs a job to stop it between steps. */
export const cancelRequestSchema = z.object({
  v: versionField,
  jobId: identifier('job id'),
  requestedBy: textUpTo(64, { allowEmpty: false }),
  at: timestamp(),
});
export type CancelRequest = z.infer<typeof cancelRequestSchema>;

/** A job no worker could process, kept with the reason for operators. */
export const deadLetterSchema = z.object({
  v: versionField,
  /** Null when the payload was too broken to read an id from. */
  jobId: identifier('job id').nullable(),
  model: identifier('model id').nullable(),
  code: oneOf(errorCodes),
  reason: textUpTo(2000, { allowEmpty: false }),
  deliveries: nonNegativeInteger(),
  /** Subject the job was published on. */
  subject: textUpTo(255, { allowEmpty: false }),
  /** The original payload, base64, truncated to 64 KiB. */
  payload: z.string(),
  workerId: identifier('worker id').optional(),
  at: timestamp(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;
