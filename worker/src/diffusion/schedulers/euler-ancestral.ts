/**
 * Euler ancestral (diffusers `EulerAncestralDiscreteScheduler`): an Euler step down to `sigma_down`,
 * then fresh noise of `sigma_up` so the sample lands on the next sigma's marginal. Every step draws
 * one noise array from the rng (also the last, where `sigma_up` is 0), as the reference does.
 */
import { drawNoise, requireSameLength } from './common.js';
import { readSchedulerBasis } from './config.js';
import { f32 } from './numeric.js';
import { SigmaScheduler, eulerStep } from './sigma-schedule.js';
import type { NoiseSource, SchedulerConfig, StepResult } from './types.js';

export class EulerAncestralScheduler extends SigmaScheduler {
  readonly name = 'euler_a';
  private readonly predictionType: 'epsilon' | 'v_prediction';

  constructor(config: SchedulerConfig) {
    const {
      read,
      sigmaTable: table,
      predictionType,
    } = readSchedulerBasis(config, 'euler_a', {
      zeroSnrRescale: true,
      // diffusers has no sample prediction for this scheduler.
      predictionTypes: ['epsilon', 'v_prediction'],
    });
    super({ ...read.spacing('linspace'), sigmaTable: table, karras: null, finalSigma: 0 });
    this.predictionType = predictionType;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: NoiseSource): StepResult {
    const { index, sigmas } = this.currentIndex(t, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const sigma = sigmas[index] ?? 0;
    const sigmaTo = sigmas[index + 1] ?? 0;
    const fromSquared = f32(sigma * sigma);
    const toSquared = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(toSquared * f32(fromSquared - toSquared)) / fromSquared)));
    const sigmaDown = f32(Math.sqrt(f32(toSquared - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigma);
    const noise = drawNoise(this.name, rng, sample.length);
    const result = eulerStep(this.predictionType, modelOutput, sample, sigma, dt, { noise, sigmaUp });
    this.stepIndex = index + 1;
    return result;
  }
}
