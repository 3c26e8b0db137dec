/**
 * What the multistep ODE solvers (DPM-Solver++, UniPC) share. They work on the variance-preserving
 * sample `x = alpha x0 + sigma eps` itself (no input scaling, unit initial noise) and remember the
 * clean-latent estimates of previous steps; their schedules come from the training sigmas at
 * integer timesteps, or Karras sigmas mapped back to rounded timesteps.
 */
import type { SchedulerName } from '@sdbot/shared';
import { indexForTimestep, notReady, pastTheEnd, requireSameLength, validateStepCount } from './common.js';
import type { PredictionType, TimestepSpacing } from './config.js';
import { f32, interpolateTable, roundHalfEven } from './numeric.js';
import { karrasSigmas, logSigmaTable, sigmaToTimestep } from './sigma-schedule.js';
import { multistepTimesteps } from './spacing.js';
import type { NoiseSource, Scheduler, StepResult } from './types.js';

/** `alpha = 1 / sqrt(sigma^2 + 1)` and the VP noise level `alpha * sigma` of a Karras sigma (float32). */
export function vpCoefficients(sigma: number): { alpha: number; sigma: number } {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  return { alpha, sigma: f32(sigma * alpha) };
}

/** Half the log signal-to-noise ratio, `log(alpha) - log(sigma)`: the solvers' time variable. */
export function lambdaOf(coefficients: { alpha: number; sigma: number }): number {
  return f32(f32(Math.log(coefficients.alpha)) - f32(Math.log(coefficients.sigma)));
}

export interface MultistepScheduleRequest {
  spacing: TimestepSpacing;
  steps: number;
  stepsOffset: number;
  sigmaTable: Float32Array;
  /** The top of the usable range (below the training length when low lambdas are clipped). */
  lastTimestep: number;
  karras: { sigmaMin: number | null; sigmaMax: number | null; roundTimesteps: boolean } | null;
  /** The sigma after the last step, given the schedule's sigmas. */
  finalSigma: (sigmas: readonly number[]) => number;
}

export function buildMultistepSchedule(request: MultistepScheduleRequest): {
  timesteps: number[];
  sigmas: Float32Array;
} {
  const { sigmaTable, karras, steps } = request;
  let timesteps = multistepTimesteps(
    request.spacing,
    steps,
    sigmaTable.length,
    request.lastTimestep,
    request.stepsOffset,
  );
  let sigmas: number[];
  if (karras === null) {
    sigmas = timesteps.map((t) => interpolateTable(t, sigmaTable));
  } else {
    const logSigmas = logSigmaTable(sigmaTable);
    sigmas = karrasSigmas(
      karras.sigmaMin ?? sigmaTable[0] ?? 0,
      karras.sigmaMax ?? sigmaTable[sigmaTable.length - 1] ?? 0,
      steps,
    );
    // Rounded to the nearest training timestep, else truncated as the int64 tensor conversion does.
    timesteps = sigmas.map((sigma) => {
      const t = sigmaToTimestep(sigma, logSigmas);
      return karras.roundTimesteps ? roundHalfEven(t) : Math.trunc(t);
    });
  }
  return { timesteps, sigmas: Float32Array.from([...sigmas, request.finalSigma(sigmas)]) };
}

/** The clean-latent estimate of a VP sample at (alpha, sigma), per prediction type. */
export function dataPrediction(
  predictionType: PredictionType,
  output: number,
  x: number,
  vp: { alpha: number; sigma: number },
): number {
  if (predictionType === 'epsilon') return (x - vp.sigma * output) / vp.alpha;
  if (predictionType === 'sample') return output;
  return vp.alpha * x - vp.sigma * output;
}

/**
 * Schedule (built from the request each run), step index (from the first timestep seen; a timestep
 * missing from the schedule means the last step, as in diffusers) and the identity input scaling of
 * the multistep solvers.
 */
export abstract class MultistepScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  readonly initNoiseSigma = 1;
  protected schedule: number[] = [];
  protected sigmas: Float32Array | null = null;
  protected stepIndex: number | null = null;

  protected constructor(
    private readonly request: Omit<MultistepScheduleRequest, 'steps'>,
    /** num_train_timesteps: the most steps a run may take. */
    private readonly maxSteps: number,
  ) {}

  abstract step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: NoiseSource): StepResult;

  get timesteps(): number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    validateStepCount(this.name, numInferenceSteps, this.maxSteps, 'num_train_timesteps');
    const { timesteps, sigmas } = buildMultistepSchedule({ ...this.request, steps: numInferenceSteps });
    this.schedule = timesteps;
    this.sigmas = sigmas;
    this.stepIndex = null;
    this.restart();
  }

  /** Drops what the solver remembers of the previous run's steps. */
  protected abstract restart(): void;

  protected currentIndex(t: number): { index: number; sigmas: Float32Array } {
    if (this.sigmas === null) throw notReady(this.name, 'step');
    this.stepIndex ??= indexForTimestep(this.name, this.schedule, t, 'last');
    if (this.stepIndex >= this.schedule.length) throw pastTheEnd(this.name);
    return { index: this.stepIndex, sigmas: this.sigmas };
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample.slice();
  }

  /** `alpha(t) x0 + sigma(t) noise`, the VP forward process at the schedule's sigma for `t`. */
  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    if (this.sigmas === null) throw notReady(this.name, 'addNoise');
    requireSameLength(this.name, 'original and noise', original, noise);
    const vp = vpCoefficients(this.sigmas[indexForTimestep(this.name, this.schedule, t, 'last')] ?? 0);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = vp.alpha * (original[i] ?? 0) + vp.sigma * (noise[i] ?? 0);
    return out;
  }
}
