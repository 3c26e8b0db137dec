import { z } from 'zod';
import { capabilityName } from './capabilities.js';
import { versionField } from './common.js';
import {
  flag,
  identifier,
  integerIn,
  nonNegativeInteger,
  nonNegativeNumber,
  oneOf,
  textUpTo,
  timestamp,
} from './fields.js';

export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

/** A worker's heartbeat in the workers KV bucket: who is online and what they can take. */
export const workerHeartbeatSchema = z.object({
  v: versionField,
  workerId: identifier('worker id'),
  hostname: textUpTo(255, { allowEmpty: false }),
  version: textUpTo(64, { allowEmpty: false }),
  models: z
    .array(
      z.object({
        id: identifier('model id'),
        name: textUpTo(255, { allowEmpty: false }),
        /** Short content hash of the model files, shown in provenance. */
        hash: textUpTo(64, { allowEmpty: false }).optional(),
        safetyChecker: flag(),
        /** Present on a super-resolution model (upscale jobs): its scale factor. */
        upscaler: z.object({ scale: integerIn({ min: 2, max: 8 }) }).optional(),
      }),
    )
    .min(1),
  provider: oneOf(EXECUTION_PROVIDERS),
  simulated: flag(),
  slots: z.object({ total: integerIn({ min: 1, max: 64 }), free: nonNegativeInteger() }),
  throughput: z.object({
    jobsPerMinute: nonNegativeNumber(),
    stepsPerSecond: nonNegativeNumber(),
    /** Optional: workers older than this field do not send it. */
    imagesPerMinute: nonNegativeNumber().optional(),
  }),
  startedAt: timestamp(),
  at: timestamp(),
  /** What the worker can do (absent: an older worker, which does the base set). */
  capabilities: z.array(capabilityName).max(64).optional(),
});
export type WorkerHeartbeat = z.infer<typeof workerHeartbeatSchema>;
