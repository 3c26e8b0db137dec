/**
 * Which live workers can take a job: the models they serve and the capabilities they announce, from
 * their heartbeats. A submission lists the registry's keys (one request, shared by the submissions
 * made while it is answered) and reuses the heartbeats read for an earlier one when no worker came
 * or went and they are under a second old (heartbeats are only as fresh as their interval anyway);
 * it refuses a job only on heartbeats read now.
 */
import { SdbotError } from '../errors.js';
import { announcedCapabilities, missingCapabilities } from '../protocol/capabilities.js';
import type { Job } from '../protocol/job.js';
import type { WorkerHeartbeat } from '../protocol/worker.js';
import type { WorkerRegistry } from './kv.js';

/** Diffusion model ids served by `workers`, in worker order, without repeats (no upscalers). */
export function diffusionModelIds(workers: readonly WorkerHeartbeat[]): string[] {
  const ids = workers.flatMap((worker) =>
    worker.models.flatMap((model) => (model.upscaler === undefined ? [model.id] : [])),
  );
  return [...new Set(ids)];
}

/** Super-resolution models served by `workers`, without repeats. */
export function upscalerModels(
  workers: readonly WorkerHeartbeat[],
): { id: string; name: string; scale: number }[] {
  const found = new Map<string, { id: string; name: string; scale: number }>();
  for (const worker of workers) {
    for (const model of worker.models) {
      if (model.upscaler !== undefined && !found.has(model.id)) {
        found.set(model.id, { id: model.id, name: model.name, scale: model.upscaler.scale });
      }
    }
  }
  return [...found.values()];
}

/**
 * Why `workers` cannot take the job, or undefined when they can: no live worker serves its model
 * (it would wait forever), or a worker of the model lacks a capability the job needs. Every live
 * worker of the model shares its queue, so any of them may take the job; an older worker
 * mid-upgrade would silently ignore the field, so it is named rather than let the job run wrong.
 */
function refusalFor(job: Job, workers: readonly WorkerHeartbeat[]): SdbotError | undefined {
  // An upscale goes to a super-resolution model, everything else to a diffusion model.
  const served =
    job.kind === 'upscale'
      ? upscalerModels(workers).map((upscaler) => upscaler.id)
      : diffusionModelIds(workers);
  if (!served.includes(job.model)) {
    const online = served.length === 0 ? 'no worker is online' : `online: ${served.join(', ')}`;
    return new SdbotError('UNKNOWN_MODEL', `no worker serves model "${job.model}" (${online})`);
  }
  const lacking = workers
    .filter((worker) => worker.models.some((model) => model.id === job.model))
    .map((worker) => ({ worker, missing: missingCapabilities(job, announcedCapabilities(worker)) }))
    .filter(({ missing }) => missing.length > 0);
  if (lacking.length === 0) return undefined;
  const named = lacking.map(
    ({ worker, missing }) => `${worker.workerId} (version ${worker.version}) lacks ${missing.join(', ')}`,
  );
  return new SdbotError(
    'UNSUPPORTED_CAPABILITY',
    `not every worker of model "${job.model}" can run this job yet: ${named.join('; ')}; upgrade them and try again`,
  );
}

/** How long heartbeats read for one submission serve the next ones while no worker comes or goes. */
const WORKER_LIST_REUSE_MS = 1000;

export class LiveWorkers {
  private recent: { readAt: number; keys: string; workers: Promise<WorkerHeartbeat[]> } | undefined;
  /** A listing of the keys in flight, which submissions asking meanwhile share. */
  private listing: Promise<string[]> | undefined;

  constructor(private readonly registry: WorkerRegistry) {}

  /** The workers live now (kept for the next submissions). */
  async now(): Promise<WorkerHeartbeat[]> {
    return this.readAll(await this.registry.keys());
  }

  private readAll(keys: readonly string[]): Promise<WorkerHeartbeat[]> {
    const workers = this.registry.read(keys);
    const entry = { readAt: Date.now(), keys: [...keys].sort().join(' '), workers };
    this.recent = entry;
    // A failed read is not kept for the next submission.
    workers.catch(() => {
      if (this.recent === entry) this.recent = undefined;
    });
    return workers;
  }

  /**
   * The registry's keys. Submissions at the same moment (a burst) share one listing rather than
   * send one each: its answer is at most a round trip older than their asking.
   */
  private sharedKeys(): Promise<string[]> {
    this.listing ??= this.registry.keys().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  /** The same workers as the recent list, under WORKER_LIST_REUSE_MS old, or the workers now. */
  private async recently(): Promise<WorkerHeartbeat[]> {
    const keys = await this.sharedKeys();
    const recent = this.recent;
    const same =
      recent !== undefined &&
      Date.now() - recent.readAt < WORKER_LIST_REUSE_MS &&
      recent.keys === [...keys].sort().join(' ');
    return same ? recent.workers : this.readAll(keys);
  }

  /** Throws why the live workers cannot take `job` (see refusalFor). */
  async check(job: Job): Promise<void> {
    if (refusalFor(job, await this.recently()) === undefined) return;
    // The list may be a moment old: a refusal stands only on what is live now.
    const refusal = refusalFor(job, await this.now());
    if (refusal !== undefined) throw refusal;
  }
}
