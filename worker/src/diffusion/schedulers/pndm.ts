/**
 * PNDM (diffusers `PNDMScheduler`, Liu et al. 2022): linear multistep on the DDIM transfer, the SD 1.x
 * default. With `skip_prk_steps` (every SD config) it is PLMS: the first step is repeated so the
 * second UNet call can average its noise estimate with the first (a Heun-like start), then the
 * Adams-Bashforth coefficients of order 2 to 4. Without it, 12 Runge-Kutta calls start the schedule.
 */
import { buffer, notReady, requireSameLength, validateStepCount } from './common.js';
import { addNoiseDdpm, alphaBarAt } from './ddpm-noise.js';
import { readSchedulerBasis, type TimestepSpacing } from './config.js';
import { f32 } from './numeric.js';
import { discreteTimesteps } from './spacing.js';
import type { Scheduler, SchedulerConfig, StepResult } from './types.js';

const PNDM_ORDER = 4;

interface PndmSettings {
  numTrainTimesteps: number;
  skipPrkSteps: boolean;
  setAlphaToOne: boolean;
  predictionType: 'epsilon' | 'v_prediction';
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
}

export class PndmScheduler implements Scheduler {
  readonly name = 'pndm';
  readonly initNoiseSigma = 1;
  private readonly settings: PndmSettings;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;

  private steps = 0;
  private schedule: number[] = [];
  private prkTimestepCount = 0;
  private counter = 0;
  /** Past noise estimates (newest last), copied into buffers this scheduler owns. */
  private ets: Float32Array[] = [];
  private spareEts: Float32Array[] = [];
  private savedSample: Float32Array | null = null;
  private hasSavedSample = false;
  /** Runge-Kutta accumulator of the four PRK calls of one step. */
  private prkAccumulator: Float32Array | null = null;
  private scratch: Float32Array | null = null;

  constructor(config: SchedulerConfig) {
    const { read, training, alphasCumprod, predictionType } = readSchedulerBasis(config, 'pndm', {
      zeroSnrRescale: false,
      predictionTypes: ['epsilon', 'v_prediction'],
    });
    const { spacing, stepsOffset } = read.spacing('leading');
    this.settings = {
      numTrainTimesteps: training.numTrainTimesteps,
      skipPrkSteps: read.boolean('skip_prk_steps', false),
      setAlphaToOne: read.boolean('set_alpha_to_one', false),
      predictionType,
      timestepSpacing: spacing,
      stepsOffset,
    };
    this.alphasCumprod = alphasCumprod;
    this.finalAlphaCumprod = this.settings.setAlphaToOne ? 1 : (this.alphasCumprod[0] ?? 1);
  }

  get timesteps(): number[] {
    return this.schedule;
  }

  setTimesteps(numInferenceSteps: number): void {
    const { numTrainTimesteps, skipPrkSteps, timestepSpacing, stepsOffset } = this.settings;
    validateStepCount(this.name, numInferenceSteps, numTrainTimesteps, 'num_train_timesteps');
    const ascending = discreteTimesteps(
      timestepSpacing,
      numInferenceSteps,
      numTrainTimesteps,
      stepsOffset,
    ).reverse();
    let prk: number[] = [];
    let plms: number[];
    if (skipPrkSteps) {
      // t[:-1], t[-2], t[-1]: the second-to-last ascending entry (the first step's target) repeats.
      plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
    } else {
      const halfStep = Math.floor(Math.floor(numTrainTimesteps / numInferenceSteps) / 2);
      const tail = ascending.slice(-PNDM_ORDER).flatMap((t) => [t, t + halfStep]);
      prk = tail
        .slice(0, -1)
        .flatMap((t) => [t, t])
        .slice(1, -1)
        .reverse();
      plms = ascending.slice(0, -3).reverse();
    }
    this.steps = numInferenceSteps;
    this.schedule = [...prk, ...plms];
    this.prkTimestepCount = prk.length;
    this.counter = 0;
    this.spareEts.push(...this.ets);
    this.ets = [];
    this.hasSavedSample = false;
    this.prkAccumulator?.fill(0);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample.slice();
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepResult {
    if (this.steps === 0) throw notReady(this.name, 'step');
    requireSameLength(this.name, 'modelOutput and sample', modelOutput, sample);
    const prevSample =
      this.counter < this.prkTimestepCount && !this.settings.skipPrkSteps
        ? this.stepRungeKutta(modelOutput, t, sample)
        : this.stepLinearMultistep(modelOutput, t, sample);
    this.counter += 1;
    return { prevSample };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseDdpm(this.name, this.alphasCumprod, original, noise, t);
  }

  private stepRungeKutta(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const stage = this.counter % 4;
    const halfStep = Math.floor(Math.floor(this.settings.numTrainTimesteps / this.steps) / 2);
    const prevTimestep = t - (this.counter % 2 === 1 ? 0 : halfStep);
    const timestep = this.schedule[Math.floor(this.counter / 4) * 4] ?? t;
    const accumulator = (this.prkAccumulator = buffer(this.prkAccumulator, modelOutput.length));
    if (stage === 0) {
      accumulator.fill(0);
      this.pushEt(modelOutput);
      this.saveSample(sample);
    }
    if (stage === 3) {
      // The fourth call completes the Runge-Kutta average 1/6, 1/3, 1/3, 1/6.
      const combined = this.combine([1, 1 / 6], [accumulator, modelOutput]);
      return this.transfer(this.currentSample(sample), timestep, prevTimestep, combined);
    }
    const weight = stage === 0 ? 1 / 6 : 1 / 3;
    for (let i = 0; i < modelOutput.length; i++) {
      accumulator[i] = (accumulator[i] ?? 0) + weight * (modelOutput[i] ?? 0);
    }
    return this.transfer(this.currentSample(sample), timestep, prevTimestep, modelOutput);
  }

  private stepLinearMultistep(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const stride = Math.floor(this.settings.numTrainTimesteps / this.steps);
    if (this.counter === 1 && this.settings.skipPrkSteps) {
      // The repeated first step: redo it from the saved sample with the mean of both estimates.
      const start = this.currentSample(sample);
      this.hasSavedSample = false;
      const first = this.ets[this.ets.length - 1] ?? modelOutput;
      return this.transfer(start, t + stride, t, this.combine([0.5, 0.5], [modelOutput, first]));
    }
    this.pushEt(modelOutput);
    const prevTimestep = t - stride;
    const back = (n: number): Float32Array => this.ets[this.ets.length - n] ?? modelOutput;
    switch (this.ets.length) {
      case 1:
        this.saveSample(sample);
        return this.transfer(sample, t, prevTimestep, modelOutput);
      case 2:
        return this.transfer(sample, t, prevTimestep, this.combine([3 / 2, -1 / 2], [back(1), back(2)]));
      case 3:
        return this.transfer(
          sample,
          t,
          prevTimestep,
          this.combine([23 / 12, -16 / 12, 5 / 12], [back(1), back(2), back(3)]),
        );
      default:
        return this.transfer(
          sample,
          t,
          prevTimestep,
          this.combine([55 / 24, -59 / 24, 37 / 24, -9 / 24], [back(1), back(2), back(3), back(4)]),
        );
    }
  }

  /** Weighted sum of noise estimates into the scratch buffer (no allocation per step). */
  private combine(weights: readonly number[], sources: readonly Float32Array[]): Float32Array {
    const length = sources[0]?.length ?? 0;
    const out = (this.scratch = buffer(this.scratch, length));
    const [w1 = 0, w2 = 0, w3 = 0, w4 = 0] = weights;
    const [s1, s2, s3, s4] = sources;
    if (s1 === undefined) return out;
    // Unused terms read the first source with weight zero, keeping one loop for every order.
    const t2 = s2 ?? s1;
    const t3 = s3 ?? s1;
    const t4 = s4 ?? s1;
    for (let i = 0; i < length; i++) {
      out[i] = w1 * (s1[i] ?? 0) + w2 * (t2[i] ?? 0) + w3 * (t3[i] ?? 0) + w4 * (t4[i] ?? 0);
    }
    return out;
  }

  /** Keeps the last four estimates, recycling the buffer that falls out of the window. */
  private pushEt(modelOutput: Float32Array): void {
    if (this.ets.length > 3) this.spareEts.push(...this.ets.splice(0, this.ets.length - 3));
    const recycled = this.spareEts.pop() ?? null;
    const copy = buffer(recycled, modelOutput.length);
    copy.set(modelOutput);
    this.ets.push(copy);
  }

  private saveSample(sample: Float32Array): void {
    this.savedSample = buffer(this.savedSample, sample.length);
    this.savedSample.set(sample);
    this.hasSavedSample = true;
  }

  private currentSample(sample: Float32Array): Float32Array {
    return this.hasSavedSample && this.savedSample !== null ? this.savedSample : sample;
  }

  /**
   * Formula (9) of the PNDM paper: moves `sample` from `timestep` to `prevTimestep` along the DDIM
   * path for the noise estimate `eps(i)`.
   */
  private transfer(
    sample: Float32Array,
    timestep: number,
    prevTimestep: number,
    eps: Float32Array,
  ): Float32Array {
    const alphaProd = alphaBarAt(this.name, this.alphasCumprod, timestep);
    const alphaProdPrev =
      prevTimestep >= 0 ? alphaBarAt(this.name, this.alphasCumprod, prevTimestep) : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    const sampleCoeff = f32(Math.sqrt(f32(alphaProdPrev / alphaProd)));
    const denominator = f32(
      f32(alphaProd * f32(Math.sqrt(betaProdPrev))) +
        f32(Math.sqrt(f32(f32(alphaProd * betaProd) * alphaProdPrev))),
    );
    const epsCoeff = f32(alphaProdPrev - alphaProd) / denominator;
    const out = new Float32Array(sample.length);
    if (this.settings.predictionType === 'v_prediction') {
      // v = sqrt(abar) eps - sqrt(1 - abar) x0, so eps = sqrt(abar) v + sqrt(1 - abar) x.
      const sqrtAlpha = f32(Math.sqrt(alphaProd));
      const sqrtBeta = f32(Math.sqrt(betaProd));
      for (let i = 0; i < out.length; i++) {
        const x = sample[i] ?? 0;
        out[i] = sampleCoeff * x - epsCoeff * (sqrtAlpha * (eps[i] ?? 0) + sqrtBeta * x);
      }
    } else {
      for (let i = 0; i < out.length; i++) out[i] = sampleCoeff * (sample[i] ?? 0) - epsCoeff * (eps[i] ?? 0);
    }
    return out;
  }
}
