/**
 * Euler (diffusers `EulerDiscreteScheduler`, Karras et al. 2022 Algorithm 2 without churn): one
 * first-order step of the probability-flow ODE in sigma per UNet call. Defaults to linspace
 * spacing, so the SD 1.5 config (which names no spacing) starts at sigma_max = 14.6146.
 */
import { requireSameLength } from './common.js';
import {
  PREDICTION_TYPES,
  UNSUPPORTED_SIGMA_SPACINGS,
  readSchedulerBasis,
  type PredictionType,
} from './config.js';
import { f32 } from './numeric.js';
import { SigmaScheduler, eulerStep } from './sigma-schedule.js';
import type { SchedulerConfig, StepResult } from './types.js';

export class EulerScheduler extends SigmaScheduler {
  readonly name = 'euler';
  private readonly predictionType: PredictionType;

  constructor(config: SchedulerConfig) {
    const {
      read,
      sigmaTable: table,
      predictionType,
    } = readSchedulerBasis(config, 'euler', {
      zeroSnrRescale: true,
      unsupported: { interpolation_type: 'linear', timestep_type: 'discrete', ...UNSUPPORTED_SIGMA_SPACINGS },
      predictionTypes: PREDICTION_TYPES,
    });
    const karras = read.boolean('use_karras_sigmas', false);
    const finalSigmas = read.oneOf('final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    super({
      ...read.spacing('linspace'),
      sigmaTable: table,
      karras: karras
        ? {
            sigmaMin: read.optionalNumber('sigma_min', { min: 0 }),
            sigmaMax: read.optionalNumber('sigma_max', { min: 0 }),
          }
        : null,
      finalSigma: finalSigmas === 'zero' ? 0 : (table[0] ?? 0),
    });
    this.predictionType = predictionType;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    const { index, sigmas } = this.currentIndex(t, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const sigma = sigmas[index] ?? 0;
    const dt = f32((sigmas[index + 1] ?? 0) - sigma);
    const result = eulerStep(this.predictionType, modelOutput, sample, sigma, dt);
    this.stepIndex = index + 1;
    return result;
  }
}
