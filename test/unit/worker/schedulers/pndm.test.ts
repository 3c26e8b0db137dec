import { describe, expect, it } from 'vitest';
import { ALPHAS_CUMPROD, CLEAN, NOISE, alphaBar, denoise, denoiseFromNoise } from './harness.js';
import { expectParity, fakeModelOutput, maxAbsDiff, oracle, range, scheduled, sd15 } from './harness.js';

/** DDIM transfer of formula (9) in the PNDM paper, in float64 from the reference alpha-bar table. */
function transfer(x: number, eps: number, t: number, prev: number): number {
  const a = alphaBar(t);
  const aPrev = prev >= 0 ? alphaBar(prev) : ALPHAS_CUMPROD[0]!;
  const denominator = a * Math.sqrt(1 - aPrev) + Math.sqrt(a * (1 - a) * aPrev);
  return Math.sqrt(aPrev / a) * x - ((aPrev - a) * eps) / denominator;
}

describe('pndm scheduler (PLMS, the SD 1.x default)', () => {
  it('repeats the second timestep: leading spacing + steps_offset, then t[:-1], t[-2], t[-1]', () => {
    const scheduler = sd15('pndm');
    scheduler.setTimesteps(20);
    const leading = range(20, (i) => i * 50 + 1); // arange(20) * (1000 // 20) + 1
    const expected = [...leading.slice(0, -1), leading[18]!, leading[19]!].reverse();
    expect(scheduler.timesteps).toEqual(expected);
    expect(scheduler.timesteps.slice(0, 4)).toEqual([951, 901, 901, 851]);
    expect(scheduler.timesteps).toHaveLength(21);
    expect(scheduler.timesteps.at(-1)).toBe(1);

    scheduler.setTimesteps(50);
    expect(scheduler.timesteps).toHaveLength(51);
    expect(scheduler.timesteps.slice(0, 4)).toEqual([981, 961, 961, 941]);
    expect(scheduler.timesteps.slice(-2)).toEqual([21, 1]);
  });

  it('uses unit initial noise and feeds the UNet the sample unchanged (as a new array)', () => {
    const scheduler = scheduled('pndm', 10);
    expect(scheduler.initNoiseSigma).toBe(1);
    const sample = Float32Array.from([1.5, -2, 0.25]);
    const scaled = scheduler.scaleModelInput(sample, 901);
    expect(scaled).toEqual(sample);
    expect(scaled).not.toBe(sample);
  });

  it('applies the PLMS start and the Adams-Bashforth coefficients 1, (3,-1)/2, (23,-16,5)/12, (55,-59,37,-9)/24', () => {
    const scheduler = scheduled('pndm', 10);
    const ts = scheduler.timesteps; // 901, 801, 801, 701, ...
    const e = range(6, (k) => 0.1 * (k + 1) * (k % 2 === 0 ? 1 : -1));
    const x0 = 0.7;
    const out = range(6, () => 0);
    let x = x0;
    for (let k = 0; k < 6; k++) {
      out[k] = scheduler.step(Float32Array.of(e[k]!), ts[k]!, Float32Array.of(x)).prevSample[0]!;
      x = out[k]!;
    }
    // Call 0: plain step 901 -> 801 with e0. Call 1: redo 901 -> 801 from the first sample with mean(e0, e1).
    expect(out[0]).toBeCloseTo(transfer(x0, e[0]!, 901, 801), 5);
    expect(out[1]).toBeCloseTo(transfer(x0, (e[0]! + e[1]!) / 2, 901, 801), 5);
    // The repeated call's estimate is not kept: history is e0, e2, e3, e4.
    expect(out[2]).toBeCloseTo(transfer(out[1]!, (3 * e[2]! - e[0]!) / 2, 801, 701), 5);
    expect(out[3]).toBeCloseTo(transfer(out[2]!, (23 * e[3]! - 16 * e[2]! + 5 * e[0]!) / 12, 701, 601), 5);
    expect(out[4]).toBeCloseTo(
      transfer(out[3]!, (55 * e[4]! - 59 * e[3]! + 37 * e[2]! - 9 * e[0]!) / 24, 601, 501),
      5,
    );
    expect(out[5]).toBeCloseTo(
      transfer(out[4]!, (55 * e[5]! - 59 * e[4]! + 37 * e[3]! - 9 * e[2]!) / 24, 501, 401),
      5,
    );
  });

  it('steps from the last timestep to alphas_cumprod[0] (set_alpha_to_one false)', () => {
    const scheduler = scheduled('pndm', 1);
    expect(scheduler.timesteps).toEqual([1]);
    const out = scheduler.step(Float32Array.of(0.3), 1, Float32Array.of(0.5)).prevSample[0]!;
    expect(out).toBeCloseTo(transfer(0.5, 0.3, 1, -1), 6);
  });

  it('recovers the clean latents when the model predicts the true noise', () => {
    const { latents } = denoiseFromNoise(scheduled('pndm', 25));
    // The last step lands on alphas_cumprod[0], not 1: x = sqrt(a0) x0 + sqrt(1 - a0) n.
    const a0 = ALPHAS_CUMPROD[0]!;
    const expected = CLEAN.map((c, i) => Math.sqrt(a0) * c + Math.sqrt(1 - a0) * NOISE[i]!);
    expect(maxAbsDiff(latents, expected)).toBeLessThan(1e-4);
  });

  it('treats a v prediction as the noise it implies at the current timestep', () => {
    const run = (prediction: 'epsilon' | 'v_prediction'): Float32Array[] => {
      const fresh = () => scheduled('pndm', 25, { prediction_type: prediction });
      const single = fresh();
      const start = single.addNoise(CLEAN, NOISE, single.timesteps[0]!);
      const model = oracle(prediction);
      const first = single.step(model(start), single.timesteps[0]!, start).prevSample;
      return [first, denoise(fresh(), start, model).latents];
    };
    const [epsilonFirst, epsilonEnd] = run('epsilon');
    const [velocityFirst, velocityEnd] = run('v_prediction');
    expect(maxAbsDiff(velocityFirst!, epsilonFirst!)).toBeLessThan(1e-5);
    // Like diffusers, PLMS averages raw velocities from different timesteps, so later steps are
    // close to the epsilon run but not identical.
    expect(maxAbsDiff(velocityEnd!, epsilonEnd!)).toBeLessThan(0.1);
  });

  it('noises like DDPM for img2img: sqrt(abar) x0 + sqrt(1 - abar) eps', () => {
    const scheduler = sd15('pndm');
    const noisy = scheduler.addNoise(Float32Array.of(1, -2), Float32Array.of(0.5, 0.25), 501);
    const a = alphaBar(501);
    expect(noisy[0]).toBeCloseTo(Math.sqrt(a) + Math.sqrt(1 - a) * 0.5, 6);
    expect(noisy[1]).toBeCloseTo(-2 * Math.sqrt(a) + Math.sqrt(1 - a) * 0.25, 6);
  });

  it('runs the Runge-Kutta warm-up when skip_prk_steps is false (12 PRK calls, then PLMS)', () => {
    const scheduler = scheduled('pndm', 20, { skip_prk_steps: false });
    // The four highest leading timesteps 801..951, each followed by its half step (+25), in pairs.
    expect(scheduler.timesteps.slice(0, 12)).toEqual([
      951, 926, 926, 901, 901, 876, 876, 851, 851, 826, 826, 801,
    ]);
    expect(scheduler.timesteps.slice(12, 14)).toEqual([801, 751]);
    expect(scheduler.timesteps).toHaveLength(12 + 17);
  });

  it('matches diffusers PNDMScheduler.from_config(SD 1.5) on a fixed 20-step run', () => {
    // Final latents of diffusers' float32 loop over the same fake model outputs.
    const reference = [-19.36325, 7.255469, -8.966603, 20.24646, 3.294671, -13.75877, 11.57052, -2.305487];
    expectParity(sd15('pndm'), reference);
  });

  it('does not modify its inputs and keeps its own copy of past estimates', () => {
    const scheduler = scheduled('pndm', 10);
    const sample = Float32Array.of(0.5, -0.5);
    const output = fakeModelOutput(0, 2);
    const before = [...sample, ...output];
    const first = scheduler.step(output, 901, sample).prevSample;
    expect([...sample, ...output]).toEqual(before);
    output.fill(100); // a caller reusing its buffer must not change the scheduler's history
    const reused = scheduler.step(fakeModelOutput(1, 2), 801, first).prevSample;
    const fresh = scheduled('pndm', 10);
    const firstAgain = fresh.step(fakeModelOutput(0, 2), 901, Float32Array.of(0.5, -0.5)).prevSample;
    expect(fresh.step(fakeModelOutput(1, 2), 801, firstAgain).prevSample).toEqual(reused);
  });
});
