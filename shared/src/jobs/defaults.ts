/**
 * The configuration's defaults for a job's parameters: the last layer of every producer's
 * precedence (Discord: a flag in the prompt, then the slash option, then the server's settings,
 * then these; the CLI: its flags, then these).
 */
import type { Config } from '../config.js';
import type { NoiseSource, SchedulerName } from '../protocol/job.js';

/** Side of SD 1.x's native square, the size when nothing else says. */
export const DEFAULT_IMAGE_SIDE = 512;

export interface ConfiguredJobDefaults {
  /** Undefined: the first model a worker serves. */
  model?: string;
  scheduler: SchedulerName;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  rng: NoiseSource;
  /** img2img strength when a request starts from an image and names none (V buttons, --init). */
  strength: number;
  maxPixels: number;
}

export function configuredJobDefaults(config: Config): ConfiguredJobDefaults {
  const limits = config.limits;
  const defaults: ConfiguredJobDefaults = {
    scheduler: limits.defaultScheduler,
    steps: limits.defaultSteps,
    guidance: limits.defaultGuidance,
    width: DEFAULT_IMAGE_SIDE,
    height: DEFAULT_IMAGE_SIDE,
    rng: 'numpy',
    strength: limits.variationStrength,
    maxPixels: limits.maxPixels,
  };
  if (limits.defaultModel !== undefined) defaults.model = limits.defaultModel;
  return defaults;
}
