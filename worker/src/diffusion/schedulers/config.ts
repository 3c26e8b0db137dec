/**
 * Reads a diffusers `scheduler_config.json` the way `from_config` does: each scheduler takes the keys
 * its constructor knows, falls back to its own defaults for missing (or null) ones and ignores the
 * rest. Malformed values are a broken model directory, reported with the key that is wrong.
 */
import { SdbotError, type SchedulerName } from '@sdbot/shared';
import { BETA_SCHEDULES, type TrainingScheduleSettings } from './training-schedule.js';

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
