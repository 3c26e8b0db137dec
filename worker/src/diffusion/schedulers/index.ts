/**
 * Stable Diffusion schedulers with diffusers' math, one module per scheduler. `createScheduler` maps
 * the wire names (SCHEDULER_NAMES) to them and reads the model's `scheduler_config.json` the way
 * diffusers' `from_config` does.
 */
import { SCHEDULER_NAMES, SdbotError, type SchedulerName } from '@sdbot/shared';
import { DdimScheduler } from './ddim.js';
import { PndmScheduler } from './pndm.js';
import type { Scheduler, SchedulerConfig } from './types.js';

export type { NoiseSource, Scheduler, SchedulerConfig, StepResult } from './types.js';

const FACTORIES: Partial<Record<SchedulerName, (config: SchedulerConfig) => Scheduler>> = {
  pndm: (config) => new PndmScheduler(config),
  ddim: (config) => new DdimScheduler(config),
};

export function createScheduler(name: SchedulerName, config: SchedulerConfig): Scheduler {
  const factory = (SCHEDULER_NAMES as readonly string[]).includes(name) ? FACTORIES[name] : undefined;
  if (factory === undefined) {
    throw new SdbotError(
      'INVALID_INPUT',
      `unknown scheduler "${name}": choose one of ${Object.keys(FACTORIES).join(', ')}`,
    );
  }
  return factory(config);
}
