/**
 * Shared fixtures of the scheduler tests: the SD 1.5 scheduler config, the training schedule derived
 * independently in float64 (the implementation builds it in float32 like diffusers), deterministic
 * stand-ins for the UNet and the noise source, and a denoising loop driven the way the pipeline
 * drives it.
 */
import type { SchedulerName } from '@sdbot/shared';
import { expect } from 'vitest';
import {
  createScheduler,
  type NoiseSource,
  type Scheduler,
  type SchedulerConfig,
} from '../../../../worker/src/diffusion/schedulers/index.js';

/** `scheduler/scheduler_config.json` of Stable Diffusion 1.5 (a PNDMScheduler config). */
export const SD15_CONFIG: SchedulerConfig = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

export function sd15(name: SchedulerName, overrides: SchedulerConfig = {}): Scheduler {
  return createScheduler(name, { ...SD15_CONFIG, ...overrides });
}

/** `sd15(name, overrides)` with its schedule set for `steps`. */
export function scheduled(name: SchedulerName, steps: number, overrides: SchedulerConfig = {}): Scheduler {
  const scheduler = sd15(name, overrides);
  scheduler.setTimesteps(steps);
  return scheduler;
}

/** Sets both schedulers to 50, then 20 steps, and expects them to list the same timesteps each time. */
export function expectSameTimesteps(scheduler: Scheduler, reference: Scheduler): void {
  for (const steps of [50, 20]) {
    scheduler.setTimesteps(steps);
    reference.setTimesteps(steps);
    expect(scheduler.timesteps).toEqual(reference.timesteps);
  }
}

/** alpha-bar of the SD 1.5 schedule in float64: betas = linspace(sqrt(0.00085), sqrt(0.012), 1000)^2. */
export const ALPHAS_CUMPROD: readonly number[] = (() => {
  const lo = Math.sqrt(0.00085);
  const hi = Math.sqrt(0.012);
  let product = 1;
  return Array.from({ length: 1000 }, (_, i) => {
    const root = lo + ((hi - lo) * i) / 999;
    product *= 1 - root * root;
    return product;
  });
})();

/** Karras et al. sigma of each training timestep: sqrt((1 - abar) / abar). */
export const SIGMAS: readonly number[] = ALPHAS_CUMPROD.map((a) => Math.sqrt((1 - a) / a));

export function alphaBar(t: number): number {
  return ALPHAS_CUMPROD[t]!;
}

/** np.interp over the training sigmas. */
export function sigmaAt(t: number): number {
  const low = Math.floor(t);
  if (low >= 999) return SIGMAS[999]!;
  return SIGMAS[low]! + (SIGMAS[low + 1]! - SIGMAS[low]!) * (t - low);
}

export function range(count: number, at: (i: number) => number): number[] {
  return Array.from({ length: count }, (_, i) => at(i));
}

/** Deterministic stand-in for a UNet output at call k (exact small fractions). */
export function fakeModelOutput(k: number, length = 8): Float32Array {
  return Float32Array.from(range(length, (i) => (((k * 7 + i * 3) % 11) - 5) / 5));
}

/** Noise source that hands out a fixed pattern per call, and counts the calls. */
export function patternNoise(): NoiseSource & { calls: number } {
  const source = {
    calls: 0,
    randn(count: number): Float32Array {
      const k = source.calls++;
      return Float32Array.from(range(count, (i) => (((k * 5 + i * 7) % 13) - 6) / 4));
    },
  };
  return source;
}

/** The fixed starting latents of the parity runs, before `initNoiseSigma`. */
export function startLatents(length = 8): Float32Array {
  return Float32Array.from(range(length, (i) => (((i * 5) % 8) - 3.5) / 2));
}

/**
 * Runs the pipeline's loop (scale, model, step) over the schedule from `startIndex`, with
 * `model(scaledInput, t, callIndex)` standing in for the UNet.
 */
export function denoise(
  scheduler: Scheduler,
  latents: Float32Array,
  model: (input: Float32Array, t: number, call: number) => Float32Array,
  options: { startIndex?: number; rng?: NoiseSource } = {},
): { latents: Float32Array; calls: number[] } {
  let current = latents;
  const calls: number[] = [];
  scheduler.timesteps.slice(options.startIndex ?? 0).forEach((t, call) => {
    const input = scheduler.scaleModelInput(current, t);
    calls.push(t);
    current = scheduler.step(model(input, t, call), t, current, options.rng).prevSample;
  });
  return { latents: current, calls };
}

/** The parity run: fixed latents times initNoiseSigma, fake model outputs, pattern noise. */
export function parityRun(scheduler: Scheduler, steps: number): Float32Array {
  scheduler.setTimesteps(steps);
  const start = startLatents().map((v) => v * scheduler.initNoiseSigma);
  return denoise(scheduler, start, (_input, _t, call) => fakeModelOutput(call), { rng: patternNoise() })
    .latents;
}

/** Expects the parity run of 20 steps to end within 2e-4 of diffusers' final latents. */
export function expectParity(scheduler: Scheduler, reference: readonly number[]): void {
  expect(maxAbsDiff(parityRun(scheduler, 20), reference)).toBeLessThan(2e-4);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(a.length, b.length); i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** A clean "image" and the noise it is mixed with, orthogonal-ish and of unit scale. */
export const CLEAN = Float32Array.from(range(64, (i) => Math.sin(i * 0.7) * 0.8));
export const NOISE = Float32Array.from(range(64, (i) => Math.cos(i * 1.9 + 0.3) * 1.2));

/**
 * An oracle UNet that knows the clean latents and the true noise: it finds how much of each the
 * (scaled, variance-preserving) input holds, `input = a x0 + b n`, and returns what a perfect model
 * would: the noise for epsilon prediction, `a n - b x0` for v prediction, x0 for sample prediction.
 */
export function oracle(prediction: 'epsilon' | 'v_prediction' | 'sample') {
  return (input: Float32Array): Float32Array => {
    let xx = 0;
    let nn = 0;
    let xn = 0;
    let xi = 0;
    let ni = 0;
    for (let i = 0; i < input.length; i++) {
      xx += CLEAN[i]! * CLEAN[i]!;
      nn += NOISE[i]! * NOISE[i]!;
      xn += CLEAN[i]! * NOISE[i]!;
      xi += CLEAN[i]! * input[i]!;
      ni += NOISE[i]! * input[i]!;
    }
    const det = xx * nn - xn * xn;
    const a = (xi * nn - ni * xn) / det;
    const b = (ni * xx - xi * xn) / det;
    if (prediction === 'epsilon') return NOISE.slice();
    if (prediction === 'sample') return CLEAN.slice();
    return NOISE.map((n, i) => a * n - b * CLEAN[i]!);
  };
}

/**
 * Noises CLEAN with NOISE at the scheduled timestep `startIndex` and denoises from there with the
 * oracle of `prediction`, the way img2img starts mid-schedule (index 0: txt2img from pure noise).
 */
export function denoiseFromNoise(
  scheduler: Scheduler,
  prediction: 'epsilon' | 'v_prediction' | 'sample' = 'epsilon',
  startIndex = 0,
): { start: Float32Array; latents: Float32Array; calls: number[] } {
  const start = scheduler.addNoise(CLEAN, NOISE, scheduler.timesteps[startIndex]!);
  return { start, ...denoise(scheduler, start, oracle(prediction), { startIndex }) };
}

/**
 * Expects img2img from the scheduled timestep `startIndex` to make `calls` UNet calls and land on the
 * clean latents within 1e-4; returns the noised start.
 */
export function expectRecoveryFrom(scheduler: Scheduler, startIndex: number, calls: number): Float32Array {
  const run = denoiseFromNoise(scheduler, 'epsilon', startIndex);
  expect(run.calls).toHaveLength(calls);
  expect(maxAbsDiff(run.latents, CLEAN)).toBeLessThan(1e-4);
  return run.start;
}
