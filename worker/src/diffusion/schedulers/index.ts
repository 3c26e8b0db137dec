/**
 * Stable Diffusion schedulers with diffusers' math, one module per scheduler. `createScheduler` maps
 * the wire names (SCHEDULER_NAMES) to them and reads the model's `scheduler_config.json` the way
 * diffusers' `from_config` does: each scheduler takes its own keys and defaults.
 */
import { SCHEDULER_NAMES, SdbotError, type SchedulerName } from '@sdbot/shared';
import { DdimScheduler } from './ddim.js';
import { DpmSolverScheduler } from './dpm-solver.js';
import { EulerAncestralScheduler } from './euler-ancestral.js';
import { EulerScheduler } from './euler.js';
import { HeunScheduler } from './heun.js';
import { LcmScheduler } from './lcm.js';
import { LmsScheduler } from './lms.js';
import { PndmScheduler } from './pndm.js';
import { UniPcScheduler } from './unipc.js';
import type { Scheduler, SchedulerConfig } from './types.js';

export type { NoiseSource, Scheduler, SchedulerConfig, StepResult } from './types.js';

const FACTORIES: Record<SchedulerName, (config: SchedulerConfig) => Scheduler> = {
  pndm: (config) => new PndmScheduler(config),
  ddim: (config) => new DdimScheduler(config),
  euler: (config) => new EulerScheduler(config),
  euler_a: (config) => new EulerAncestralScheduler(config),
  lms: (config) => new LmsScheduler(config),
  heun: (config) => new HeunScheduler(config),
  dpmpp_2m: (config) => new DpmSolverScheduler('dpmpp_2m', config),
  dpmpp_2m_karras: (config) => new DpmSolverScheduler('dpmpp_2m_karras', config),
  unipc: (config) => new UniPcScheduler(config),
  lcm: (config) => new LcmScheduler(config),
};

function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

/**
 * The scheduler `name` configured from a model's scheduler config. The name is checked at run time
 * too: it comes from job messages and CLI flags.
 */
export function createScheduler(name: SchedulerName, config: SchedulerConfig): Scheduler {
  const requested: string = name;
  if (!isSchedulerName(requested)) {
    throw new SdbotError(
      'INVALID_INPUT',
      `unknown scheduler "${requested}": choose one of ${SCHEDULER_NAMES.join(', ')}`,
    );
  }
  return FACTORIES[requested](config);
}
