/**
 * LMS (diffusers `LMSDiscreteScheduler`, k-diffusion `sample_lms`): linear multistep of order 4 in
 * sigma. Each coefficient is the integral over the step of a Lagrange basis polynomial through the
 * last sigmas; diffusers integrates numerically (scipy quad), this integrates the polynomial exactly.
 */
import { buffer, requireSameLength } from './common.js';
import type { PredictionType } from './config.js';
import { SigmaScheduler, ownBoundsSigmaBasis, predictOriginal, velocityScale } from './sigma-schedule.js';
import type { SchedulerConfig, StepResult } from './types.js';

const LMS_ORDER = 4;

/**
 * `integral from sigmas[t] to sigmas[t+1] of prod_{k != j} (tau - sigmas[t-k]) / (sigmas[t-j] - sigmas[t-k])`
 * for j = 0..order-1: the weight of the derivative from j steps back. Integrated exactly in the
 * shifted variable u = tau - sigmas[t], where the polynomial is expanded term by term.
 */
export function lmsCoefficients(sigmas: ArrayLike<number>, t: number, order: number): number[] {
  const origin = sigmas[t] ?? 0;
  const end = (sigmas[t + 1] ?? 0) - origin;
  const nodes = Array.from({ length: order }, (_, k) => (sigmas[t - k] ?? 0) - origin);
  return nodes.map((nodeJ, j) => {
    // Coefficients of prod_{k != j} (u - node_k), lowest degree first.
    let polynomial = [1];
    let denominator = 1;
    nodes.forEach((nodeK, k) => {
      if (k === j) return;
      const next = new Array<number>(polynomial.length + 1).fill(0);
      polynomial.forEach((c, degree) => {
        next[degree + 1] = (next[degree + 1] ?? 0) + c;
        next[degree] = (next[degree] ?? 0) - c * nodeK;
      });
      polynomial = next;
      denominator *= nodeJ - nodeK;
    });
    const integral = polynomial.reduce((sum, c, degree) => sum + (c * end ** (degree + 1)) / (degree + 1), 0);
    return integral / denominator;
  });
}

export class LmsScheduler extends SigmaScheduler {
  readonly name = 'lms';
  private readonly predictionType: PredictionType;
  /** Derivatives of the last steps, newest last, in buffers this scheduler owns. */
  private derivatives: Float32Array[] = [];
  private spare: Float32Array[] = [];

  constructor(config: SchedulerConfig) {
    // LMS takes the Karras bounds from its own schedule, never from the config.
    const { request, predictionType } = ownBoundsSigmaBasis(config, 'lms');
    super(request);
    this.predictionType = predictionType;
  }

  protected override useSchedule(timesteps: number[], sigmas: Float32Array): void {
    super.useSchedule(timesteps, sigmas);
    this.spare.push(...this.derivatives);
    this.derivatives = [];
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    const { index, sigmas } = this.currentIndex(t, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const sigma = sigmas[index] ?? 0;
    const vScale = velocityScale(sigma);
    const recycled = this.derivatives.length >= LMS_ORDER ? this.derivatives.shift() : this.spare.pop();
    const derivative = buffer(recycled ?? null, sample.length);
    const denoised = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] ?? 0;
      const original = predictOriginal(this.predictionType, modelOutput[i] ?? 0, x, sigma, vScale);
      denoised[i] = original;
      derivative[i] = (x - original) / sigma;
    }
    this.derivatives.push(derivative);

    // The order follows the step index, not the history: a loop started mid-schedule uses the
    // order-4 weight of the newest derivative alone until history builds up, like diffusers.
    const coefficients = lmsCoefficients(sigmas, index, Math.min(index + 1, LMS_ORDER));
    const terms = Math.min(coefficients.length, this.derivatives.length);
    const history = this.derivatives;
    const [c0 = 0, c1 = 0, c2 = 0, c3 = 0] = coefficients.slice(0, terms);
    const d0 = history[history.length - 1] ?? derivative;
    const d1 = history[history.length - 2] ?? derivative;
    const d2 = history[history.length - 3] ?? derivative;
    const d3 = history[history.length - 4] ?? derivative;
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      prevSample[i] =
        (sample[i] ?? 0) + c0 * (d0[i] ?? 0) + c1 * (d1[i] ?? 0) + c2 * (d2[i] ?? 0) + c3 * (d3[i] ?? 0);
    }
    this.stepIndex = index + 1;
    return { prevSample, denoised };
  }
}
