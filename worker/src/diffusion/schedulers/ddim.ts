/**
 * DDIM (diffusers `DDIMScheduler`, Song et al. 2020): predicts the clean latents, then moves to the
 * previous timestep along the deterministic path. `eta` (0 by default; not a diffusers config key,
 * the pipeline argument of the same name) blends in DDPM's stochastic noise, drawn from the rng.
 */
import { drawNoise, notReady, requireSameLength, validateStepCount } from './common.js';
import { PREDICTION_TYPES, readSchedulerBasis, type PredictionType, type TimestepSpacing } from './config.js';
import { addNoiseDdpm, alphaBarAt } from './ddpm-noise.js';
import { f32 } from './numeric.js';
import { discreteTimesteps } from './spacing.js';
import type { NoiseSource, Scheduler, SchedulerConfig, StepResult } from './types.js';

interface DdimSettings {
  numTrainTimesteps: number;
  clipSample: boolean;
  clipSampleRange: number;
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  eta: number;
}

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim';
  readonly initNoiseSigma = 1;
  private readonly settings: DdimSettings;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private steps = 0;
  private schedule: number[] = [];

  constructor(config: SchedulerConfig) {
    const { read, training, alphasCumprod, predictionType } = readSchedulerBasis(config, 'ddim', {
      zeroSnrRescale: true,
      unsupported: { thresholding: false },
      predictionTypes: PREDICTION_TYPES,
    });
    const { spacing, stepsOffset } = read.spacing('leading');
    this.settings = {
      numTrainTimesteps: training.numTrainTimesteps,
      clipSample: read.boolean('clip_sample', true),
      clipSampleRange: read.number('clip_sample_range', 1, { min: 0 }),
      predictionType,
      timestepSpacing: spacing,
      stepsOffset,
      eta: read.number('eta', 0, { min: 0 }),
    };
    this.alphasCumprod = alphasCumprod;
    this.finalAlphaCumprod = read.boolean('set_alpha_to_one', true) ? 1 : (this.alphasCumprod[0] ?? 1);
  }

  get timesteps(): number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    const { numTrainTimesteps, timestepSpacing, stepsOffset } = this.settings;
    validateStepCount(this.name, numInferenceSteps, numTrainTimesteps, 'num_train_timesteps');
    this.steps = numInferenceSteps;
    this.schedule = discreteTimesteps(timestepSpacing, numInferenceSteps, numTrainTimesteps, stepsOffset);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample.slice();
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: NoiseSource): StepResult {
    if (this.steps === 0) throw notReady(this.name, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const { numTrainTimesteps, predictionType, clipSample, clipSampleRange, eta } = this.settings;
    // Like diffusers, the previous timestep is one leading-spacing stride back whatever the spacing.
    const prevTimestep = t - Math.floor(numTrainTimesteps / this.steps);
    const alphaProd = alphaBarAt(this.name, this.alphasCumprod, t);
    const alphaProdPrev =
      prevTimestep >= 0 ? alphaBarAt(this.name, this.alphasCumprod, prevTimestep) : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    const sqrtAlpha = f32(Math.sqrt(alphaProd));
    const sqrtBeta = f32(Math.sqrt(betaProd));
    const variance = f32(f32(betaProdPrev / betaProd) * f32(1 - f32(alphaProd / alphaProdPrev)));
    const stdDev = f32(eta * f32(Math.sqrt(variance)));
    const directionScale = f32(Math.sqrt(f32(f32(1 - alphaProdPrev) - f32(stdDev * stdDev))));
    const sqrtAlphaPrev = f32(Math.sqrt(alphaProdPrev));
    const noise = eta > 0 ? drawNoise(this.name, rng, sample.length) : null;

    const prevSample = new Float32Array(sample.length);
    const denoised = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] ?? 0;
      const output = modelOutput[i] ?? 0;
      let original: number;
      let epsilon: number;
      if (predictionType === 'epsilon') {
        original = (x - sqrtBeta * output) / sqrtAlpha;
        epsilon = output;
      } else if (predictionType === 'sample') {
        original = output;
        epsilon = (x - sqrtAlpha * output) / sqrtBeta;
      } else {
        original = sqrtAlpha * x - sqrtBeta * output;
        epsilon = sqrtAlpha * output + sqrtBeta * x;
      }
      if (clipSample) original = Math.min(Math.max(original, -clipSampleRange), clipSampleRange);
      denoised[i] = original;
      prevSample[i] =
        sqrtAlphaPrev * original + directionScale * epsilon + (noise ? stdDev * (noise[i] ?? 0) : 0);
    }
    return { prevSample, denoised };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseDdpm(this.name, this.alphasCumprod, original, noise, t);
  }
}
