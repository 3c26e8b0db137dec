/**
 * Building jobs. A producer (slash command, button, CLI) fills in a draft, the job's parameters;
 * the request path adds who asked and when. Re-rolls, variations and upscales are derived from the
 * job they came from with `deriveJob`, so no producer copies job fields by hand.
 */
import { randomInt } from 'node:crypto';
import { LIMITS } from '../limits.js';
import type { GenerationParams, Hires, Job, JobInput, Requester } from '../protocol/job.js';
import type { z } from 'zod';
import type { sourceImageSchema } from '../protocol/job.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Who asked for a job and when; the request path adds it to a draft. */
export interface JobIdentity {
  id: string;
  requester: Requester;
  createdAt: number;
}

/** A job without its identity: everything a producer decides. */
export type JobDraft = DistributiveOmit<Job, keyof JobIdentity>;
/** A draft as a producer may write it (schema defaults such as `rng` may be left out). */
export type JobDraftInput = DistributiveOmit<JobInput, keyof JobIdentity>;

export type SourceImage = z.output<typeof sourceImageSchema>;

/** A uniformly random seed. */
export function randomSeed(): number {
  return randomInt(0, LIMITS.seed.max + 1);
}

/** The job a draft becomes once the request path knows who asked. */
export function completeJob<D extends JobDraftInput>(draft: D, identity: JobIdentity): D & JobIdentity {
  return { ...draft, ...identity };
}

/** A job without its identity. */
function draftOf(job: Job | JobDraft): JobDraft {
  const { id: _id, requester: _requester, createdAt: _createdAt, ...draft } = job as Job;
  return draft;
}

/** How a new job follows from an earlier one (the buttons under a result). */
export type JobDerivation =
  /** The same request with a new seed. */
  | { type: 'reroll'; seed: number }
  /** The same request with some parameters changed (a remix form), and a new seed. */
  | { type: 'remix'; changes: Partial<GenerationParams>; seed: number }
  /** img2img from one of the parent's images, with new seeds. */
  | { type: 'variation'; source: SourceImage; strength: number; seed: number; count: number }
  /**
   * One of the parent's images, enlarged by the super-resolution model `upscaler` (default: the
   * parent's model) to `width` x `height` (default: by the model's scale).
   */
  | { type: 'upscale'; source: SourceImage; upscaler?: string; width?: number; height?: number }
  /**
   * Upscale (Creative): one image enlarged, then redrawn by img2img at `strength` with the parent's
   * prompt and the image's seed, at `width` x `height` (a hires fix).
   */
  | {
      type: 'hires';
      source: SourceImage;
      seed: number;
      strength: number;
      width: number;
      height: number;
      hires: Hires;
    };

/** The draft of a job derived from `parent`; every parameter not named by the change is kept. */
export function deriveJob(parent: Job | JobDraft, change: JobDerivation): JobDraft {
  const draft = draftOf(parent);
  switch (change.type) {
    case 'reroll':
      // An upscale has no seed: repeating it is the same request again.
      return draft.kind === 'upscale' ? draft : { ...draft, seed: change.seed };
    case 'remix':
      if (draft.kind === 'upscale') throw new TypeError('an upscale has no generation parameters to remix');
      return { ...draft, ...change.changes, seed: change.seed };
    case 'upscale':
      return {
        v: draft.v,
        kind: 'upscale',
        model: change.upscaler ?? draft.model,
        source: change.source,
        ...(change.width === undefined ? {} : { width: change.width }),
        ...(change.height === undefined ? {} : { height: change.height }),
      };
    case 'hires': {
      if (draft.kind === 'upscale') {
        throw new TypeError('an upscale has no generation parameters to redraw with');
      }
      const { variation: _seedVariation, ...params } = draft;
      const { type: _type, ...fields } = change;
      return { ...params, kind: 'img2img', count: 1, ...fields };
    }
    case 'variation': {
      if (draft.kind === 'upscale') {
        throw new TypeError('an upscale has no generation parameters to vary');
      }
      const { variation: _seedVariation, ...params } = draft;
      return {
        ...params,
        kind: 'variation',
        seed: change.seed,
        count: change.count,
        source: change.source,
        strength: change.strength,
      };
    }
  }
}
