/**
 * Euler (diffusers `EulerDiscreteScheduler`, Karras et al. 2022 Algorithm 2 without churn): one
 * first-order step of the probability-flow ODE in sigma per UNet call. Defaults to linspace
 * spacing, so the SD 1.5 config (which names no spacing) starts at sigma_max = 14.6146.
 */
import { requireSameLength, validateStepCount } from './common.js';
import { ConfigReader, PREDICTION_TYPES, TIMESTEP_SPACINGS, type PredictionType } from './config.js';
import { f32 } from './numeric.js';
import {
  SigmaScheduler,
  buildSigmaSchedule,
  predictOriginal,
  velocityScale,
  type SigmaScheduleRequest,
} from './sigma-schedule.js';
import { alphasCumprodForSigmas, sigmaTable, trainingBetas } from './training-schedule.js';
import type { SchedulerConfig, StepResult } from './types.js';

export class EulerScheduler extends SigmaScheduler {
  readonly name = 'euler';
  private readonly predictionType: PredictionType;
  private readonly request: Omit<SigmaScheduleRequest, 'steps'>;

  constructor(config: SchedulerConfig) {
    const read = new ConfigReader(config, 'euler');
    const training = read.trainingSchedule({
      betaStart: 0.0001,
      betaEnd: 0.02,
      betaSchedule: 'linear',
      supportsZeroSnrRescale: true,
    });
    read.unsupported('interpolation_type', 'linear');
    read.unsupported('timestep_type', 'discrete');
    read.unsupported('use_exponential_sigmas', false);
    read.unsupported('use_beta_sigmas', false);
    const table = sigmaTable(alphasCumprodForSigmas(trainingBetas(training), training.rescaleBetasZeroSnr));
    const spacing = read.oneOf('timestep_spacing', TIMESTEP_SPACINGS, 'linspace');
    super(table, spacing);
    this.predictionType = read.oneOf('prediction_type', PREDICTION_TYPES, 'epsilon');
    const karras = read.boolean('use_karras_sigmas', false);
    const finalSigmas = read.oneOf('final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    this.request = {
      spacing,
      stepsOffset: read.number('steps_offset', 0, { integer: true, min: 0 }),
      sigmaTable: table,
      karras: karras
        ? {
            sigmaMin: read.optionalNumber('sigma_min', { min: 0 }),
            sigmaMax: read.optionalNumber('sigma_max', { min: 0 }),
          }
        : null,
      finalSigma: finalSigmas === 'zero' ? 0 : (table[0] ?? 0),
    };
  }

  setTimesteps(numInferenceSteps: number): void {
    validateStepCount(this.name, numInferenceSteps, this.sigmaTable.length, 'num_train_timesteps');
    const { timesteps, sigmas } = buildSigmaSchedule({ ...this.request, steps: numInferenceSteps });
    this.useSchedule(timesteps, sigmas);
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    const { index, sigmas } = this.currentIndex(t, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const sigma = sigmas[index] ?? 0;
    const dt = f32((sigmas[index + 1] ?? 0) - sigma);
    const vScale = velocityScale(sigma);
    const prevSample = new Float32Array(sample.length);
    const denoised = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] ?? 0;
      const original = predictOriginal(this.predictionType, modelOutput[i] ?? 0, x, sigma, vScale);
      denoised[i] = original;
      prevSample[i] = x + ((x - original) / sigma) * dt;
    }
    this.stepIndex = index + 1;
    return { prevSample, denoised };
  }
}
