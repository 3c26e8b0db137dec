/**
 * What a worker can do, for rolling upgrades. Protocol v1 only grows by optional fields, and zod
 * strips keys it does not know, so an older worker would silently drop a field a newer requester
 * relies on. The rule (README, "Rolling upgrades"): a job field an older worker would get wrong by
 * ignoring it comes with a capability name; the job lists the names it needs (`requires`), workers
 * announce theirs in the registry, a requester submits a job only when every live worker of its
 * model has them, and a worker refuses a job needing one it lacks with UNSUPPORTED_CAPABILITY.
 */
import { z } from 'zod';

export const capabilityName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9:._-]{0,63}$/, { error: 'must be a capability name such as seed-variation' });

/**
 * What every v1 worker does, including workers from before capabilities were announced: the job
 * kinds it runs (`upscale` jobs are in the protocol, but no worker runs them yet).
 */
export const BASE_CAPABILITIES: readonly string[] = ['txt2img', 'img2img', 'variation'];

/**
 * What this build's workers announce. Add a name here, in `requiredCapabilities`, and in the
 * README's table when a job field an older worker would ignore is added.
 */
export const WORKER_CAPABILITIES: readonly string[] = [
  ...BASE_CAPABILITIES,
  'seed-variation',
  'prompt-syntax:a1111',
];

/** The fields of a job that decide what it needs. */
export interface CapabilityNeeds {
  kind: string;
  variation?: unknown;
  syntax?: string | undefined;
  requires?: readonly string[] | undefined;
}

/** The capabilities a job needs: its kind, those its fields imply, and those it lists. */
export function requiredCapabilities(job: CapabilityNeeds): string[] {
  const needs = new Set<string>([job.kind, ...(job.requires ?? [])]);
  // An older worker would drop `variation` and render the plain seed.
  if (job.variation !== undefined) needs.add('seed-variation');
  // An older worker would drop `syntax` and read (word:1.2) or [a:b:5] as plain words.
  if (job.syntax !== undefined && job.syntax !== 'plain') needs.add(`prompt-syntax:${job.syntax}`);
  return [...needs];
}

/** What a worker can do: what it announces, or the base set when it announces nothing (older). */
export function announcedCapabilities(worker: { capabilities?: readonly string[] | undefined }): Set<string> {
  return new Set(worker.capabilities ?? BASE_CAPABILITIES);
}

/** The capabilities `job` needs that `capabilities` lacks (empty: the worker may take it). */
export function missingCapabilities(job: CapabilityNeeds, capabilities: ReadonlySet<string>): string[] {
  return requiredCapabilities(job).filter((name) => !capabilities.has(name));
}
