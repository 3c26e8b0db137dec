/**
 * What the sigma-parameterized (k-diffusion style) schedulers share: `x = x0 + sigma * eps`, the
 * UNet input scaled by `1 / sqrt(sigma^2 + 1)`, sigma schedules interpolated from the training
 * table (or Karras et al.'s rho = 7 ramp), and a step index found from the timestep like diffusers'
 * `index_for_timestep`, so a loop may start anywhere in the schedule.
 */
import type { SchedulerName } from '@sdbot/shared';
import { indexForTimestep, notReady, pastTheEnd, requireSameLength, validateStepCount } from './common.js';
import {
  PREDICTION_TYPES,
  UNSUPPORTED_SIGMA_SPACINGS,
  readSchedulerBasis,
  type ConfigReader,
  type PredictionType,
  type SchedulerRecipe,
  type TimestepSpacing,
} from './config.js';
import { f32, interpolateTable, numpyLinspace } from './numeric.js';
import { continuousTimesteps } from './spacing.js';
import type { NoiseSource, Scheduler, SchedulerConfig, StepResult } from './types.js';

const KARRAS_RHO = 7;

/** Karras et al. (2022) eq. 5: sigmas evenly spaced in sigma^(1/rho) from max down to min. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, steps: number): number[] {
  const minInvRho = sigmaMin ** (1 / KARRAS_RHO);
  const maxInvRho = sigmaMax ** (1 / KARRAS_RHO);
  return numpyLinspace(0, 1, steps).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** KARRAS_RHO);
}

/** `log` of the training sigmas, kept as float32 like the reference's numpy table. */
export function logSigmaTable(sigmaTable: Float32Array): Float32Array {
  return sigmaTable.map(Math.log);
}

/** diffusers' `_sigma_to_t`: the fractional training timestep of a sigma, interpolating log sigma. */
export function sigmaToTimestep(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - (logSigmas[i] ?? 0) >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lowLog = logSigmas[low] ?? 0;
  const highLog = logSigmas[low + 1] ?? 0;
  const weight = Math.min(Math.max((lowLog - logSigma) / f32(lowLog - highLog), 0), 1);
  return (1 - weight) * low + weight * (low + 1);
}

export interface SigmaScheduleRequest {
  spacing: TimestepSpacing;
  steps: number;
  stepsOffset: number;
  sigmaTable: Float32Array;
  /** Karras sigmas between these bounds (null: the ends of the interpolated schedule), or none. */
  karras: { sigmaMin: number | null; sigmaMax: number | null } | null;
  /** The sigma after the last step: 0, or the smallest training sigma. */
  finalSigma: number;
}

/** Timesteps (float32) and sigmas (float32, one more: the final sigma) of a sigma schedule. */
export function buildSigmaSchedule(request: SigmaScheduleRequest): {
  timesteps: number[];
  sigmas: Float32Array;
} {
  const { spacing, steps, stepsOffset, sigmaTable, karras } = request;
  let timesteps = continuousTimesteps(spacing, steps, sigmaTable.length, stepsOffset);
  let sigmas = timesteps.map((t) => interpolateTable(t, sigmaTable));
  if (karras !== null) {
    const logSigmas = logSigmaTable(sigmaTable);
    sigmas = karrasSigmas(karras.sigmaMin ?? sigmas.at(-1) ?? 0, karras.sigmaMax ?? sigmas[0] ?? 0, steps);
    timesteps = sigmas.map((sigma) => f32(sigmaToTimestep(sigma, logSigmas)));
  }
  return { timesteps, sigmas: Float32Array.from([...sigmas, request.finalSigma]) };
}

/** `x / sqrt(sigma^2 + 1)`: the variance-preserving input the UNet was trained on. */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const divisor = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  const out = new Float32Array(sample.length);
  for (let i = 0; i < out.length; i++) out[i] = (sample[i] ?? 0) / divisor;
  return out;
}

/** The clean-latent estimate `x0` from the model output at `sigma`, per prediction type. */
export function predictOriginal(
  predictionType: 'epsilon' | 'v_prediction' | 'sample',
  output: number,
  x: number,
  sigma: number,
  vScale: { output: number; sample: number },
): number {
  if (predictionType === 'epsilon') return x - sigma * output;
  if (predictionType === 'sample') return output;
  return output * vScale.output + x * vScale.sample;
}

/** Coefficients of the v-prediction conversion `x0 = v * (-sigma / sqrt(sigma^2+1)) + x / (sigma^2+1)`. */
export function velocityScale(sigma: number): { output: number; sample: number } {
  const squaredPlusOne = f32(f32(sigma * sigma) + 1);
  return { output: f32(-sigma / f32(Math.sqrt(squaredPlusOne))), sample: 1 / squaredPlusOne };
}

/**
 * The basis of the sigma schedulers that take Karras sigmas only between their own schedule's bounds
 * (Heun, LMS): linspace spacing unless the config names one, and a last step down to sigma 0.
 */
export function ownBoundsSigmaBasis(
  config: SchedulerConfig,
  name: 'heun' | 'lms',
  training?: SchedulerRecipe<PredictionType>['training'],
): { read: ConfigReader; request: Omit<SigmaScheduleRequest, 'steps'>; predictionType: PredictionType } {
  const { read, sigmaTable, predictionType } = readSchedulerBasis(config, name, {
    ...(training === undefined ? {} : { training }),
    zeroSnrRescale: false,
    unsupported: UNSUPPORTED_SIGMA_SPACINGS,
    predictionTypes: PREDICTION_TYPES,
  });
  const request = {
    ...read.spacing('linspace'),
    sigmaTable,
    karras: read.boolean('use_karras_sigmas', false) ? { sigmaMin: null, sigmaMax: null } : null,
    finalSigma: 0,
  };
  return { read, request, predictionType };
}

/**
 * One Euler step from `sigma` by `dt` along `(x - x0) / sigma`, plus `noise * sigmaUp` for an ancestral
 * step; `denoised` is the clean-latent estimate `x0`.
 */
export function eulerStep(
  predictionType: 'epsilon' | 'v_prediction' | 'sample',
  modelOutput: Float32Array,
  sample: Float32Array,
  sigma: number,
  dt: number,
  ancestral?: { noise: Float32Array; sigmaUp: number },
): StepResult {
  const vScale = velocityScale(sigma);
  const prevSample = new Float32Array(sample.length);
  const denoised = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) {
    const x = sample[i] ?? 0;
    const original = predictOriginal(predictionType, modelOutput[i] ?? 0, x, sigma, vScale);
    denoised[i] = original;
    const next = x + ((x - original) / sigma) * dt;
    prevSample[i] = ancestral === undefined ? next : next + (ancestral.noise[i] ?? 0) * ancestral.sigmaUp;
  }
  return { prevSample, denoised };
}

/**
 * Common state of the sigma schedulers: the schedule (built from the request each run), the step
 * index (found from the first timestep seen, advanced by each step) and the scaling and noising
 * that depend only on sigma.
 */
export abstract class SigmaScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  protected schedule: number[] = [];
  protected sigmas: Float32Array | null = null;
  protected stepIndex: number | null = null;
  protected readonly sigmaTable: Float32Array;

  protected constructor(private readonly request: Omit<SigmaScheduleRequest, 'steps'>) {
    this.sigmaTable = request.sigmaTable;
  }

  abstract step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: NoiseSource): StepResult;

  get timesteps(): number[] {
    return this.schedule;
  }

  /** "leading" spacing starts below the top of the table, so the initial noise gets the +1 variance. */
  get initNoiseSigma(): number {
    let max = 0;
    for (const sigma of this.sigmas ?? this.sigmaTable) max = Math.max(max, sigma);
    return this.request.spacing === 'leading' ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
  }

  setTimesteps(numInferenceSteps: number): void {
    validateStepCount(this.name, numInferenceSteps, this.sigmaTable.length, 'num_train_timesteps');
    const { timesteps, sigmas } = buildSigmaSchedule({ ...this.request, steps: numInferenceSteps });
    this.useSchedule(timesteps, sigmas);
  }

  /** Starts a run on this schedule; schedulers that keep history across steps drop it here. */
  protected useSchedule(timesteps: number[], sigmas: Float32Array): void {
    this.schedule = timesteps;
    this.sigmas = sigmas;
    this.stepIndex = null;
  }

  /** The step index for `t`, found in the schedule on the first call after setTimesteps(). */
  protected currentIndex(t: number, method: string): { index: number; sigmas: Float32Array } {
    if (this.sigmas === null) throw notReady(this.name, method);
    this.stepIndex ??= indexForTimestep(this.name, this.schedule, t, 'error');
    if (this.stepIndex >= this.schedule.length) throw pastTheEnd(this.name);
    return { index: this.stepIndex, sigmas: this.sigmas };
  }

  scaleModelInput(sample: Float32Array, t: number): Float32Array {
    const { index, sigmas } = this.currentIndex(t, 'scaleModelInput');
    return scaleBySigma(sample, sigmas[index] ?? 0);
  }

  /** `x0 + sigma(t) * noise`; sigma is looked up from `t` without moving the step index. */
  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    if (this.sigmas === null) throw notReady(this.name, 'addNoise');
    requireSameLength(this.name, 'original and noise', original, noise);
    const sigma = this.sigmas[indexForTimestep(this.name, this.schedule, t, 'error')] ?? 0;
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = (original[i] ?? 0) + (noise[i] ?? 0) * sigma;
    return out;
  }
}
