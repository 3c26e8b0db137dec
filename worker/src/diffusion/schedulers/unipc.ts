/**
 * UniPC (diffusers `UniPCMultistepScheduler`, Zhao et al. 2023): a multistep predictor (UniP) plus
 * a corrector (UniC) that refines the previous step's result with the model output just computed,
 * so it costs no extra UNet call. Defaults: bh2, solver_order 2, data prediction (predict_x0),
 * lower-order final steps.
 */
import { buffer, requireSameLength } from './common.js';
import {
  PREDICTION_TYPES,
  UNSUPPORTED_SIGMA_SPACINGS,
  readSchedulerBasis,
  type PredictionType,
} from './config.js';
import { MultistepScheduler, dataPrediction, lambdaOf, vpCoefficients } from './multistep.js';
import { solveLinearSystem } from './numeric.js';
import type { SchedulerConfig, StepResult } from './types.js';

/**
 * Scalar weights of one UniP / UniC update from sigma `from` to sigma `to`: the update is
 * `sampleScale x - outputScale m0 - residualScale (sum_k rhos[k] D_k [+ rhos[-1] (m_t - m0)])`
 * where `D_k = (m_k - m0) / r_k` are the scaled differences to older outputs.
 */
interface UniWeights {
  sampleScale: number;
  outputScale: number;
  residualScale: number;
  /** r_k of each older output (its log-SNR distance over the step's). */
  ratios: number[];
  rhos: number[];
}

export class UniPcScheduler extends MultistepScheduler {
  readonly name = 'unipc';
  private readonly predictionType: PredictionType;
  private readonly predictX0: boolean;
  private readonly solverOrder: number;
  private readonly bh2: boolean;
  private readonly lowerOrderFinal: boolean;
  private readonly disableCorrector: readonly number[];

  /** Converted outputs (x0, or eps without predict_x0) of the last steps, newest last. */
  private outputs: Float32Array[] = [];
  private spareOutput: Float32Array | null = null;
  private lastSample: Float32Array | null = null;
  private hasLastSample = false;
  private spareSample: Float32Array | null = null;
  private lowerOrderSteps = 0;
  private lastOrder = 1;

  constructor(config: SchedulerConfig) {
    const {
      read,
      training,
      sigmaTable: table,
      predictionType,
    } = readSchedulerBasis(config, 'unipc', {
      zeroSnrRescale: true,
      unsupported: {
        thresholding: false,
        solver_p: undefined,
        ...UNSUPPORTED_SIGMA_SPACINGS,
        use_flow_sigmas: false,
        use_dynamic_shifting: false,
      },
      predictionTypes: PREDICTION_TYPES,
    });
    const predictX0 = read.boolean('predict_x0', true);
    const solverOrder = read.number('solver_order', 2, { integer: true, min: 1, max: 3 });
    // diffusers maps the DPM-Solver names (midpoint, heun, logrho) to bh2.
    const bh2 = read.oneOf('solver_type', ['bh1', 'bh2', 'midpoint', 'heun', 'logrho'], 'bh2') !== 'bh1';
    const lowerOrderFinal = read.boolean('lower_order_final', true);
    const disableCorrector = read.numberListOrNull('disable_corrector') ?? [];
    const karras = read.boolean('use_karras_sigmas', false);
    const finalSigmas = read.oneOf('final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    super(
      {
        ...read.spacing('linspace'),
        sigmaTable: table,
        lastTimestep: training.numTrainTimesteps,
        karras: karras
          ? {
              sigmaMin: read.optionalNumber('sigma_min', { min: 0 }),
              sigmaMax: read.optionalNumber('sigma_max', { min: 0 }),
              roundTimesteps: true,
            }
          : null,
        // With Karras sigmas the "sigma_min" final sigma is the schedule's own last one.
        finalSigma: (sigmas) =>
          finalSigmas === 'zero' ? 0 : karras ? (sigmas.at(-1) ?? 0) : (table[0] ?? 0),
      },
      training.numTrainTimesteps,
    );
    this.predictionType = predictionType;
    this.predictX0 = predictX0;
    this.solverOrder = solverOrder;
    this.bh2 = bh2;
    this.lowerOrderFinal = lowerOrderFinal;
    this.disableCorrector = disableCorrector;
  }

  protected restart(): void {
    this.lowerOrderSteps = 0;
    this.hasLastSample = false;
    this.spareOutput ??= this.outputs[0] ?? null;
    this.outputs = [];
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    const { index, sigmas } = this.currentIndex(t);
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const length = sample.length;

    // Convert the model output at the (uncorrected) sample.
    const vp = vpCoefficients(sigmas[index] ?? 0);
    const converted = buffer(this.spareOutput, length);
    this.spareOutput = null;
    const denoised = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      const x = sample[i] ?? 0;
      const original = dataPrediction(this.predictionType, modelOutput[i] ?? 0, x, vp);
      denoised[i] = original;
      converted[i] = this.predictX0 ? original : (x - vp.alpha * original) / vp.sigma;
    }

    // UniC: refine the sample this model output was computed at, using that very output.
    let current = sample;
    const lastSample = this.lastSample;
    if (
      index > 0 &&
      !this.disableCorrector.includes(index - 1) &&
      this.hasLastSample &&
      lastSample !== null
    ) {
      const corrected = buffer(this.spareSample, length);
      this.correct(corrected, lastSample, converted, index);
      this.spareSample = lastSample;
      current = corrected;
      this.lastSample = corrected;
    } else {
      this.lastSample = buffer(lastSample, length);
      this.lastSample.set(sample);
    }
    this.hasLastSample = true;

    this.outputs.push(converted);
    if (this.outputs.length > this.solverOrder) this.spareOutput = this.outputs.shift() ?? null;

    const remaining = this.schedule.length - index;
    const order = Math.min(
      this.lowerOrderFinal ? Math.min(this.solverOrder, remaining) : this.solverOrder,
      this.lowerOrderSteps + 1,
    );
    this.lastOrder = order;
    const prevSample = new Float32Array(length);
    this.predict(prevSample, current, index, order);
    this.lowerOrderSteps = Math.min(this.lowerOrderSteps + 1, this.solverOrder);
    this.stepIndex = index + 1;
    return { prevSample, denoised };
  }

  /** UniP: from sigmas[index] to sigmas[index + 1] with the newest `order` outputs. */
  private predict(out: Float32Array, x: Float32Array, index: number, order: number): void {
    const sigmas = this.sigmas ?? new Float32Array(0);
    const older = Array.from({ length: order - 1 }, (_, k) => sigmas[index - 1 - k] ?? 0);
    const weights = this.weights(sigmas[index] ?? 0, sigmas[index + 1] ?? 0, older, 'predictor');
    const outputs = this.outputs;
    const m0 = outputs[outputs.length - 1] ?? out;
    const [h1, h2, c1, c2] = this.differenceTerms(weights, m0);
    const { sampleScale, outputScale, residualScale } = weights;
    for (let i = 0; i < out.length; i++) {
      const newest = m0[i] ?? 0;
      const residual = c1 * ((h1[i] ?? 0) - newest) + c2 * ((h2[i] ?? 0) - newest);
      out[i] = sampleScale * (x[i] ?? 0) - outputScale * newest - residualScale * residual;
    }
  }

  /**
   * The older outputs `m_k` (k = 1, 2: solver_order is at most 3), the ones before the newest of
   * the history, and their weights `rho_k / r_k` in the residual `sum_k rho_k (m_k - m0) / r_k`.
   * Absent terms get weight 0 (and read m0), keeping one loop for every order.
   */
  private differenceTerms(
    weights: UniWeights,
    m0: Float32Array,
  ): [Float32Array, Float32Array, number, number] {
    const outputs = this.outputs;
    const term = (k: number): [Float32Array, number] =>
      k < weights.ratios.length
        ? [outputs[outputs.length - 2 - k] ?? m0, (weights.rhos[k] ?? 0) / (weights.ratios[k] ?? 1)]
        : [m0, 0];
    const [h1, c1] = term(0);
    const [h2, c2] = term(1);
    return [h1, h2, c1, c2];
  }

  /**
   * UniC: redoes the last step (sigmas[index - 1] to sigmas[index]) from `lastSample`, now knowing
   * the model output `converted` at its result; the uncorrected result itself is replaced.
   */
  private correct(out: Float32Array, lastSample: Float32Array, converted: Float32Array, index: number): void {
    const sigmas = this.sigmas ?? new Float32Array(0);
    const order = this.lastOrder;
    const older = Array.from({ length: order - 1 }, (_, k) => sigmas[index - 2 - k] ?? 0);
    const weights = this.weights(sigmas[index - 1] ?? 0, sigmas[index] ?? 0, older, 'corrector');
    const m0 = this.outputs[this.outputs.length - 1] ?? converted;
    const [h1, h2, c1, c2] = this.differenceTerms(weights, m0);
    const rhoNew = weights.rhos[weights.rhos.length - 1] ?? 0;
    const { sampleScale, outputScale, residualScale } = weights;
    for (let i = 0; i < out.length; i++) {
      const base = m0[i] ?? 0;
      const residual =
        rhoNew * ((converted[i] ?? 0) - base) + c1 * ((h1[i] ?? 0) - base) + c2 * ((h2[i] ?? 0) - base);
      out[i] = sampleScale * (lastSample[i] ?? 0) - outputScale * base - residualScale * residual;
    }
  }

  private weights(from: number, to: number, older: number[], kind: 'predictor' | 'corrector'): UniWeights {
    const source = vpCoefficients(from);
    const target = vpCoefficients(to);
    const lambdaSource = lambdaOf(source);
    const h = lambdaOf(target) - lambdaSource;
    const ratios = older.map((sigma) => (lambdaOf(vpCoefficients(sigma)) - lambdaSource) / h);
    const order = older.length + 1;
    const hh = this.predictX0 ? -h : h;
    const hPhi1 = Math.expm1(hh);
    const bH = this.bh2 ? Math.expm1(hh) : hh;
    // b_i = phi_{i+1}(hh) * i! / B(h), with phi the exponential integrator functions.
    const rks = [...ratios, 1];
    const matrix = Array.from({ length: order }, (_, i) => rks.map((rk) => rk ** i));
    const b: number[] = [];
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    for (let i = 1; i <= order; i++) {
      b.push((hPhiK * factorial) / bH);
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    let rhos: number[];
    if (kind === 'predictor') {
      rhos =
        order === 1
          ? []
          : order === 2
            ? [0.5]
            : solveLinearSystem(
                matrix.slice(0, -1).map((row) => row.slice(0, -1)),
                b.slice(0, -1),
              );
    } else {
      rhos = order === 1 ? [0.5] : solveLinearSystem(matrix, b);
    }
    const scale = this.predictX0 ? target.alpha : target.sigma;
    return {
      sampleScale: this.predictX0 ? target.sigma / source.sigma : target.alpha / source.alpha,
      outputScale: scale * hPhi1,
      residualScale: scale * bH,
      ratios,
      rhos,
    };
  }
}
