import { z } from 'zod';
import { objectRefSchema, versionField } from './common.js';
import { identifier, integerIn, timestamp } from './fields.js';

/** A step of a running job. Ephemeral (core NATS): a lost update is replaced by the next one. */
export const progressSchema = z
  .object({
    v: versionField,
    jobId: identifier('job id'),
    workerId: identifier('worker id'),
    step: integerIn({ min: 0, max: 10_000 }),
    total: integerIn({ min: 1, max: 10_000 }),
    /** Small preview decoded cheaply from the latents, stored in the object store. */
    preview: objectRefSchema.optional(),
    at: timestamp(),
  })
  .refine((p) => p.step <= p.total, {
    path: ['step'],
    message: 'must not exceed total',
  });
export type Progress = z.infer<typeof progressSchema>;
