import { z } from 'zod';
import { capabilityName } from './capabilities.js';
import { versionField } from './common.js';
import * as field from './fields.js';

export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number];

/** A worker's heartbeat in the workers KV bucket: who is online and what they can take. */
export const workerHeartbeatSchema = z.object({
  v: versionField,
  workerId: field.identifier('worker id'),
  hostname: field.textUpTo(255, { allowEmpty: false }),
  version: field.textUpTo(64, { allowEmpty: false }),
  models: z
    .array(
      z.object({
        id: field.identifier('model id'),
        name: field.textUpTo(255, { allowEmpty: false }),
        /** Short content hash of the model files, shown in provenance. */
        hash: field.textUpTo(64, { allowEmpty: false }).optional(),
        safetyChecker: field.flag(),
        /** Present on a super-resolution model (upscale jobs): its scale factor. */
        upscaler: z.object({ scale: field.integerIn({ min: 2, max: 8 }) }).optional(),
      }),
    )
    .min(1),
  provider: field.oneOf(EXECUTION_PROVIDERS),
  simulated: field.flag(),
  slots: z.object({ total: field.integerIn({ min: 1, max: 64 }), free: field.nonNegativeInteger() }),
  throughput: z.object({
    jobsPerMinute: field.nonNegativeNumber(),
    stepsPerSecond: field.nonNegativeNumber(),
    /** Optional: workers older than this field do not send it. */
    imagesPerMinute: field.nonNegativeNumber().optional(),
  }),
  startedAt: field.timestamp(),
  at: field.timestamp(),
  /** What the worker can do (absent: an older worker, which does the base set). */
  capabilities: z.array(capabilityName).max(64).optional(),
});
export type WorkerHeartbeat = z.infer<typeof workerHeartbeatSchema>;
