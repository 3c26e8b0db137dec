/**
 * Heun (diffusers `HeunDiscreteScheduler`, Karras et al. 2022 Algorithm 1 without churn): a
 * second-order method that spends two UNet calls per step, an Euler predictor then a trapezoidal
 * corrector. Every timestep but the first is listed twice; the very last step is a plain Euler step
 * to sigma 0. The scheduler remembers the predictor's derivative between the two calls.
 */
import { buffer, requireSameLength } from './common.js';
import type { PredictionType } from './config.js';
import { f32 } from './numeric.js';
import { SigmaScheduler, ownBoundsSigmaBasis, predictOriginal, velocityScale } from './sigma-schedule.js';
import type { SchedulerConfig, StepResult } from './types.js';

/** [a, b, b, c, c, ..., z, z]: each entry after the first twice. */
function repeatAfterFirst(values: readonly number[]): number[] {
  return values.flatMap((value, i) => (i === 0 ? [value] : [value, value]));
}

export class HeunScheduler extends SigmaScheduler {
  readonly name = 'heun';
  private readonly predictionType: PredictionType;
  private readonly clipSampleRange: number | null;
  /** Set between the predictor and the corrector call of one step. */
  private pending: { derivative: Float32Array; sample: Float32Array; dt: number } | null = null;
  private spareDerivative: Float32Array | null = null;
  private spareSample: Float32Array | null = null;

  constructor(config: SchedulerConfig) {
    const { read, request, predictionType } = ownBoundsSigmaBasis(config, 'heun', {
      betaStart: 0.00085,
      betaEnd: 0.012,
      betaSchedule: 'linear',
    });
    super(request);
    this.predictionType = predictionType;
    const clipRange = read.number('clip_sample_range', 1, { min: 0 });
    this.clipSampleRange = read.boolean('clip_sample', false) ? clipRange : null;
  }

  protected override useSchedule(timesteps: number[], sigmas: Float32Array): void {
    // timesteps [t0, t1, t1, ..., tn, tn] and sigmas [s0, s1, s1, ..., sn, sn, 0].
    const withoutFinal = Array.from(sigmas.subarray(0, -1));
    super.useSchedule(repeatAfterFirst(timesteps), Float32Array.from([...repeatAfterFirst(withoutFinal), 0]));
    this.releasePending();
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    const { index, sigmas } = this.currentIndex(t, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const pending = this.pending;
    const firstOrder = pending === null;
    const sigma = (firstOrder ? sigmas[index] : sigmas[index - 1]) ?? 0;
    const sigmaNext = (firstOrder ? sigmas[index + 1] : sigmas[index]) ?? 0;
    // The model saw the sample at sigma (predictor) or at sigmaNext (corrector).
    const sigmaInput = firstOrder ? sigma : sigmaNext;
    const vScale = velocityScale(sigmaInput);
    const clip = this.clipSampleRange;
    const denoised = new Float32Array(sample.length);
    const prevSample = new Float32Array(sample.length);

    if (pending === null) {
      const dt = f32(sigmaNext - sigma);
      const derivative = buffer(this.spareDerivative, sample.length);
      const saved = buffer(this.spareSample, sample.length);
      saved.set(sample);
      for (let i = 0; i < sample.length; i++) {
        const x = sample[i] ?? 0;
        let original = predictOriginal(this.predictionType, modelOutput[i] ?? 0, x, sigmaInput, vScale);
        if (clip !== null) original = Math.min(Math.max(original, -clip), clip);
        denoised[i] = original;
        derivative[i] = (x - original) / sigma;
        prevSample[i] = x + (derivative[i] ?? 0) * dt;
      }
      this.pending = { derivative, sample: saved, dt };
    } else {
      const { derivative: first, sample: start, dt } = pending;
      for (let i = 0; i < sample.length; i++) {
        const x = sample[i] ?? 0;
        let original = predictOriginal(this.predictionType, modelOutput[i] ?? 0, x, sigmaInput, vScale);
        if (clip !== null) original = Math.min(Math.max(original, -clip), clip);
        denoised[i] = original;
        const averaged = ((first[i] ?? 0) + (x - original) / sigmaNext) / 2;
        prevSample[i] = (start[i] ?? 0) + averaged * dt;
      }
      this.releasePending();
    }
    this.stepIndex = index + 1;
    return { prevSample, denoised };
  }

  private releasePending(): void {
    if (this.pending !== null) {
      this.spareDerivative = this.pending.derivative;
      this.spareSample = this.pending.sample;
    }
    this.pending = null;
  }
}
