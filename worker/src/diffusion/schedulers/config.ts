/**
 * Reads a diffusers `scheduler_config.json` the way `from_config` does: each scheduler takes the keys
 * its constructor knows, falls back to its own defaults for missing (or null) ones and ignores the
 * rest. Malformed values are a broken model directory, reported with the key that is wrong.
 */
import { SdbotError, type SchedulerName } from '@sdbot/shared';
import {
  BETA_SCHEDULES,
  alphasCumprod,
  alphasCumprodForSigmas,
  sigmaTable,
  trainingBetas,
  type TrainingScheduleSettings,
} from './training-schedule.js';

export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

export class ConfigReader {
  constructor(
    private readonly config: Readonly<Record<string, unknown>>,
    readonly schedulerName: SchedulerName,
  ) {}

  private fail(key: string, expected: string, value: unknown): never {
    throw new SdbotError(
      'MODEL_INVALID',
      `scheduler config for ${this.schedulerName}: ${key} must be ${expected} (got ${JSON.stringify(value)})`,
    );
  }

  private present(key: string): unknown {
    const value = this.config[key];
    return value === null ? undefined : value;
  }

  number(
    key: string,
    fallback: number,
    range: { min?: number; max?: number; integer?: boolean } = {},
  ): number {
    const value = this.present(key) ?? fallback;
    const { min = -Infinity, max = Infinity, integer = false } = range;
    const kind = integer ? 'an integer' : 'a number';
    const bounds = `${Number.isFinite(min) ? ` >= ${min}` : ''}${Number.isFinite(max) ? ` <= ${max}` : ''}`;
    if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      return this.fail(key, kind + bounds, value);
    }
    if (value < min || value > max) return this.fail(key, kind + bounds, value);
    return value;
  }

  /** A number the class takes as `None` by default (absent or null here). */
  optionalNumber(key: string, range: { min?: number; max?: number; integer?: boolean } = {}): number | null {
    return this.present(key) === undefined ? null : this.number(key, 0, range);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.present(key) ?? fallback;
    return typeof value === 'boolean' ? value : this.fail(key, 'true or false', value);
  }

  oneOf<const T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.present(key) ?? fallback;
    const match = allowed.find((candidate) => candidate === value);
    return match ?? this.fail(key, `one of ${allowed.join(', ')}`, value);
  }

  numberListOrNull(key: string): number[] | null {
    const value = this.present(key);
    if (value === undefined) return null;
    if (Array.isArray(value) && value.every((item) => typeof item === 'number' && Number.isFinite(item))) {
      return value as number[];
    }
    return this.fail(key, 'a list of numbers or null', value);
  }

  /** `timestep_spacing` with the class's default, and the `steps_offset` that leading spacing adds. */
  spacing(fallback: TimestepSpacing): { spacing: TimestepSpacing; stepsOffset: number } {
    return {
      spacing: this.oneOf('timestep_spacing', TIMESTEP_SPACINGS, fallback),
      stepsOffset: this.number('steps_offset', 0, { integer: true, min: 0 }),
    };
  }

  /** A diffusers option this implementation does not reproduce: accepted only at its neutral value. */
  unsupported(key: string, neutral: unknown): void {
    const value = this.present(key);
    if (value !== undefined && value !== neutral) {
      throw new SdbotError(
        'MODEL_INVALID',
        `scheduler config for ${this.schedulerName}: ${key}=${JSON.stringify(value)} is not supported (only ${JSON.stringify(neutral)})`,
      );
    }
  }

  /** The training schedule keys shared by every scheduler, with the class's own defaults. */
  trainingSchedule(defaults: {
    betaStart: number;
    betaEnd: number;
    betaSchedule: TrainingScheduleSettings['betaSchedule'];
    /** Whether the diffusers class takes `rescale_betas_zero_snr` (those that do not ignore it). */
    supportsZeroSnrRescale: boolean;
  }): TrainingScheduleSettings {
    const numTrainTimesteps = this.number('num_train_timesteps', 1000, { integer: true, min: 2 });
    const trainedBetas = this.numberListOrNull('trained_betas');
    if (trainedBetas !== null && trainedBetas.length !== numTrainTimesteps) {
      this.fail(
        'trained_betas',
        `a list of num_train_timesteps (${numTrainTimesteps}) numbers`,
        trainedBetas.length,
      );
    }
    return {
      numTrainTimesteps,
      betaStart: this.number('beta_start', defaults.betaStart, { min: 0, max: 1 }),
      betaEnd: this.number('beta_end', defaults.betaEnd, { min: 0, max: 1 }),
      betaSchedule: this.oneOf('beta_schedule', BETA_SCHEDULES, defaults.betaSchedule),
      trainedBetas,
      rescaleBetasZeroSnr: defaults.supportsZeroSnrRescale && this.boolean('rescale_betas_zero_snr', false),
    };
  }
}

/** What a diffusers scheduler class declares about the config keys every scheduler shares. */
export interface SchedulerRecipe<P extends PredictionType> {
  /** The class's training defaults; DDPM's linear 0.0001..0.02 when left out. */
  training?: { betaStart: number; betaEnd: number; betaSchedule: TrainingScheduleSettings['betaSchedule'] };
  /** Whether the class takes `rescale_betas_zero_snr` (those that do not ignore it). */
  zeroSnrRescale: boolean;
  /** Options the class has that this implementation accepts only at their neutral value. */
  unsupported?: Readonly<Record<string, unknown>>;
  /** The prediction types the class takes, its default first (PREDICTION_TYPES for most). */
  predictionTypes: readonly [P, ...P[]];
}

/** The training schedule a scheduler steps through, read once from its config. */
export interface SchedulerBasis<P extends PredictionType> {
  read: ConfigReader;
  training: TrainingScheduleSettings;
  alphasCumprod: Float32Array;
  /**
   * sqrt((1 - abar) / abar) per training timestep. After a zero-SNR rescale the last alpha bar is
   * 2^-24 here (not in `alphasCumprod`), so the terminal sigma stays finite.
   */
  sigmaTable: Float32Array;
  predictionType: P;
}

/** Sigma spacings diffusers offers besides Karras': accepted only when off. */
export const UNSUPPORTED_SIGMA_SPACINGS = { use_exponential_sigmas: false, use_beta_sigmas: false } as const;

const DDPM_TRAINING = { betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' } as const;

/** config -> betas -> alpha bars and sigma table -> prediction type: the steps every scheduler takes. */
export function readSchedulerBasis<const P extends PredictionType>(
  config: Readonly<Record<string, unknown>>,
  name: SchedulerName,
  recipe: SchedulerRecipe<P>,
): SchedulerBasis<P> {
  const read = new ConfigReader(config, name);
  const training = read.trainingSchedule({
    ...(recipe.training ?? DDPM_TRAINING),
    supportsZeroSnrRescale: recipe.zeroSnrRescale,
  });
  for (const [key, neutral] of Object.entries(recipe.unsupported ?? {})) read.unsupported(key, neutral);
  const betas = trainingBetas(training);
  const [fallback] = recipe.predictionTypes;
  return {
    read,
    training,
    alphasCumprod: alphasCumprod(betas),
    sigmaTable: sigmaTable(alphasCumprodForSigmas(betas, training.rescaleBetasZeroSnr)),
    predictionType: read.oneOf('prediction_type', recipe.predictionTypes, fallback),
  };
}
