/**
 * LCM (diffusers `LCMScheduler`, Luo et al. 2023) for latent consistency models: each UNet call
 * maps straight to a clean estimate (with the consistency boundary scalings c_skip, c_out), which
 * is re-noised to the next timestep with fresh noise from the rng. Timesteps are a subset of the
 * `original_inference_steps` (50) grid the model was distilled on, so at most that many steps.
 */
import {
  drawNoise,
  indexForTimestep,
  notReady,
  pastTheEnd,
  requireSameLength,
  validateStepCount,
} from './common.js';
import { PREDICTION_TYPES, readSchedulerBasis, type PredictionType } from './config.js';
import { addNoiseDdpm, alphaBarAt } from './ddpm-noise.js';
import { f32, numpyLinspace } from './numeric.js';
import type { NoiseSource, Scheduler, SchedulerConfig, StepResult } from './types.js';

const SIGMA_DATA = 0.5;

export class LcmScheduler implements Scheduler {
  readonly name = 'lcm';
  readonly initNoiseSigma = 1;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly predictionType: PredictionType;
  private readonly clipSampleRange: number | null;
  private readonly originalSteps: number;
  private readonly timestepScaling: number;
  private schedule: number[] = [];
  private stepIndex: number | null = null;

  constructor(config: SchedulerConfig) {
    const { read, training, alphasCumprod, predictionType } = readSchedulerBasis(config, 'lcm', {
      training: { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear' },
      zeroSnrRescale: true,
      unsupported: { thresholding: false },
      predictionTypes: PREDICTION_TYPES,
    });
    this.alphasCumprod = alphasCumprod;
    this.finalAlphaCumprod = read.boolean('set_alpha_to_one', true) ? 1 : (this.alphasCumprod[0] ?? 1);
    this.predictionType = predictionType;
    const clipRange = read.number('clip_sample_range', 1, { min: 0 });
    this.clipSampleRange = read.boolean('clip_sample', false) ? clipRange : null;
    this.originalSteps = read.number('original_inference_steps', 50, {
      integer: true,
      min: 1,
      max: training.numTrainTimesteps,
    });
    this.timestepScaling = read.number('timestep_scaling', 10, { min: 0 });
  }

  get timesteps(): number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    validateStepCount(this.name, numInferenceSteps, this.originalSteps, 'original_inference_steps');
    const stride = Math.floor(this.alphasCumprod.length / this.originalSteps);
    // The distillation grid k-1, 2k-1, ..., descending; N evenly spaced picks from it.
    const grid = Array.from({ length: this.originalSteps }, (_, i) => (this.originalSteps - i) * stride - 1);
    this.schedule = numpyLinspace(0, grid.length, numInferenceSteps, false).map(
      (position) => grid[Math.floor(position)] ?? 0,
    );
    this.stepIndex = null;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample.slice();
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: NoiseSource): StepResult {
    if (this.schedule.length === 0) throw notReady(this.name, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const index = (this.stepIndex ??= indexForTimestep(this.name, this.schedule, t, 'error'));
    if (index >= this.schedule.length) throw pastTheEnd(this.name);
    const isLast = index === this.schedule.length - 1;
    const prevTimestep = this.schedule[index + 1] ?? t;
    const alphaProd = alphaBarAt(this.name, this.alphasCumprod, t);
    const alphaProdPrev =
      prevTimestep >= 0 ? alphaBarAt(this.name, this.alphasCumprod, prevTimestep) : this.finalAlphaCumprod;
    const sqrtAlpha = f32(Math.sqrt(alphaProd));
    const sqrtBeta = f32(Math.sqrt(f32(1 - alphaProd)));
    // Consistency-model boundary condition: c_skip -> 1, c_out -> 0 as t -> 0.
    const scaled = f32(t * this.timestepScaling);
    const denominator = f32(f32(scaled * scaled) + SIGMA_DATA ** 2);
    const cSkip = f32(SIGMA_DATA ** 2 / denominator);
    const cOut = f32(scaled / f32(Math.sqrt(denominator)));
    const noise = isLast ? null : drawNoise(this.name, rng, sample.length);
    const sqrtAlphaPrev = f32(Math.sqrt(alphaProdPrev));
    const sqrtBetaPrev = f32(Math.sqrt(f32(1 - alphaProdPrev)));
    const clip = this.clipSampleRange;

    const denoised = new Float32Array(sample.length);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] ?? 0;
      const output = modelOutput[i] ?? 0;
      let original =
        this.predictionType === 'epsilon'
          ? (x - sqrtBeta * output) / sqrtAlpha
          : this.predictionType === 'sample'
            ? output
            : sqrtAlpha * x - sqrtBeta * output;
      if (clip !== null) original = Math.min(Math.max(original, -clip), clip);
      const clean = cOut * original + cSkip * x;
      denoised[i] = clean;
      prevSample[i] = noise === null ? clean : sqrtAlphaPrev * clean + sqrtBetaPrev * (noise[i] ?? 0);
    }
    this.stepIndex = index + 1;
    return { prevSample, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseDdpm(this.name, this.alphasCumprod, original, noise, t);
  }
}
