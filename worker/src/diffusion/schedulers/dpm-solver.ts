/**
 * DPM-Solver++ 2M (diffusers `DPMSolverMultistepScheduler` with algorithm_type "dpmsolver++" and
 * solver_order 2; Lu et al. 2022): a second-order multistep solver in log-SNR time on the data
 * prediction, one UNet call per step. It starts and (by default) ends with a first-order step.
 * `dpmpp_2m_karras` is the same solver on Karras et al.'s rho = 7 sigmas.
 */
import { buffer, requireSameLength } from './common.js';
import {
  PREDICTION_TYPES,
  UNSUPPORTED_SIGMA_SPACINGS,
  readSchedulerBasis,
  type PredictionType,
} from './config.js';
import { MultistepScheduler, dataPrediction, lambdaOf, vpCoefficients } from './multistep.js';
import { f32 } from './numeric.js';
import { alphasCumprodForSigmas, trainingBetas } from './training-schedule.js';
import type { SchedulerConfig, StepResult } from './types.js';

/**
 * The first training timestep whose log-SNR is below `lambdaMin` ends the usable range (diffusers'
 * `lambda_min_clipped`, for cosine schedules); by default nothing is clipped.
 */
function lastUsableTimestep(alphasCumprod: Float32Array, lambdaMin: number): number {
  if (lambdaMin === -Infinity) return alphasCumprod.length;
  const lambdas = Array.from(alphasCumprod, (alphaBar) =>
    lambdaOf({ alpha: f32(Math.sqrt(alphaBar)), sigma: f32(Math.sqrt(f32(1 - alphaBar))) }),
  );
  // searchsorted(flip(lambdas), lambdaMin): how many of the (descending) lambdas lie below it.
  const clipped = lambdas.filter((lambda) => lambda < lambdaMin).length;
  return alphasCumprod.length - clipped;
}

export class DpmSolverScheduler extends MultistepScheduler {
  readonly name: 'dpmpp_2m' | 'dpmpp_2m_karras';
  private readonly predictionType: PredictionType;
  private readonly solverType: 'midpoint' | 'heun';
  private readonly lowerOrderFinal: boolean;
  private readonly eulerAtFinal: boolean;
  private readonly finalSigmaIsZero: boolean;
  /** Clean-latent estimates of the previous and the current step, in buffers this scheduler owns. */
  private previousData: Float32Array | null = null;
  private currentData: Float32Array | null = null;
  private lowerOrderSteps = 0;

  constructor(name: 'dpmpp_2m' | 'dpmpp_2m_karras', config: SchedulerConfig) {
    const {
      read,
      training,
      sigmaTable: table,
      predictionType,
    } = readSchedulerBasis(config, name, {
      zeroSnrRescale: true,
      unsupported: {
        thresholding: false,
        variance_type: undefined,
        ...UNSUPPORTED_SIGMA_SPACINGS,
        use_lu_lambdas: false,
        use_flow_sigmas: false,
        use_dynamic_shifting: false,
      },
      predictionTypes: PREDICTION_TYPES,
    });
    // The clipped range is measured on the alpha bars the sigma table was made from.
    const cumprod = alphasCumprodForSigmas(trainingBetas(training), training.rescaleBetasZeroSnr);
    const solverType = read.oneOf('solver_type', ['midpoint', 'heun'], 'midpoint');
    const lowerOrderFinal = read.boolean('lower_order_final', true);
    const eulerAtFinal = read.boolean('euler_at_final', false);
    const finalSigmaIsZero = read.oneOf('final_sigmas_type', ['zero', 'sigma_min'], 'zero') === 'zero';
    const lastTimestep = lastUsableTimestep(cumprod, read.optionalNumber('lambda_min_clipped') ?? -Infinity);
    super(
      {
        ...read.spacing('linspace'),
        sigmaTable: table,
        lastTimestep,
        // The name decides Karras sigmas; the bounds are the training table's (diffusers' DPM class
        // takes no sigma_min / sigma_max).
        karras:
          name === 'dpmpp_2m_karras'
            ? {
                sigmaMin: null,
                sigmaMax: null,
                roundTimesteps: training.betaSchedule !== 'squaredcos_cap_v2',
              }
            : null,
        finalSigma: () => (finalSigmaIsZero ? 0 : (table[0] ?? 0)),
      },
      training.numTrainTimesteps,
    );
    this.name = name;
    this.predictionType = predictionType;
    this.solverType = solverType;
    this.lowerOrderFinal = lowerOrderFinal;
    this.eulerAtFinal = eulerAtFinal;
    this.finalSigmaIsZero = finalSigmaIsZero;
  }

  protected restart(): void {
    this.lowerOrderSteps = 0;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    const { index, sigmas } = this.currentIndex(t);
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const count = this.schedule.length;
    const isLast = index === count - 1;
    const firstOrder =
      this.lowerOrderSteps < 1 ||
      (isLast && (this.eulerAtFinal || (this.lowerOrderFinal && count < 15) || this.finalSigmaIsZero));

    // Rotate the history: the current buffer becomes the previous one.
    const recycled = this.previousData;
    this.previousData = this.currentData;
    const data = (this.currentData = buffer(recycled, sample.length));
    const denoised = new Float32Array(sample.length);
    const vp = vpCoefficients(sigmas[index] ?? 0);
    for (let i = 0; i < sample.length; i++) {
      const original = dataPrediction(this.predictionType, modelOutput[i] ?? 0, sample[i] ?? 0, vp);
      data[i] = original;
      denoised[i] = original;
    }

    const target = vpCoefficients(sigmas[index + 1] ?? 0);
    const h = f32(lambdaOf(target) - lambdaOf(vp));
    const sampleScale = f32(target.sigma / vp.sigma);
    const dataScale = f32(target.alpha * f32(Math.exp(-h) - 1));
    const prevSample = new Float32Array(sample.length);
    const previous = this.previousData;
    if (firstOrder || previous === null) {
      for (let i = 0; i < sample.length; i++) {
        prevSample[i] = sampleScale * (sample[i] ?? 0) - dataScale * (data[i] ?? 0);
      }
    } else {
      const before = vpCoefficients(sigmas[index - 1] ?? 0);
      const ratio = f32(f32(lambdaOf(vp) - lambdaOf(before)) / h);
      // D1 = (m0 - m1) / r0, weighted by the midpoint or Heun rule.
      const correction =
        this.solverType === 'midpoint'
          ? f32(-0.5 * dataScale) / ratio
          : f32(target.alpha * f32(f32(f32(Math.exp(-h) - 1) / h) + 1)) / ratio;
      for (let i = 0; i < sample.length; i++) {
        const m0 = data[i] ?? 0;
        prevSample[i] =
          sampleScale * (sample[i] ?? 0) - dataScale * m0 + correction * (m0 - (previous[i] ?? 0));
      }
    }
    this.lowerOrderSteps = Math.min(this.lowerOrderSteps + 1, 2);
    this.stepIndex = index + 1;
    return { prevSample, denoised };
  }
}
