import { describe, expect, it } from 'vitest';
import { CLEAN, NOISE, SIGMAS, denoiseFromNoise, expectParity, maxAbsDiff } from './harness.js';
import { expectRecoveryFrom, range, scheduled, sd15, sigmaAt } from './harness.js';

/** np.linspace(0, 999, n)[::-1] as float32. */
function linspaceTimesteps(n: number): number[] {
  return range(n, (i) => Math.fround(i === 0 ? 999 : (n - 1 - i) * (999 / (n - 1))));
}

/** The sigma the scheduler uses at t, read back through scaleModelInput: x / sqrt(sigma^2 + 1). */
function sigmaUsedAt(scheduler: ReturnType<typeof sd15>, t: number): number {
  const scaled = scheduler.scaleModelInput(Float32Array.of(1), t)[0]!;
  return Math.sqrt(1 / (scaled * scaled) - 1);
}

describe('euler scheduler', () => {
  it('defaults to linspace spacing with the SD 1.5 config: linspace(0, 999, N) reversed, fractional', () => {
    const scheduler = sd15('euler');
    scheduler.setTimesteps(20);
    expect(scheduler.timesteps).toEqual(linspaceTimesteps(20));
    expect(scheduler.timesteps.slice(0, 3)).toEqual([999, Math.fround(946.421081), Math.fround(893.842102)]);
    expect(scheduler.timesteps.at(-1)).toBe(0);
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps).toEqual(linspaceTimesteps(50));
  });

  it('starts from sigma_max = 14.6146 under linspace, sqrt(sigma^2 + 1) of the first sigma under leading', () => {
    const linspace = scheduled('euler', 20);
    expect(linspace.initNoiseSigma).toBeCloseTo(14.6146, 4);
    expect(linspace.initNoiseSigma).toBeCloseTo(SIGMAS[999]!, 4);

    const leading = scheduled('euler', 20, { timestep_spacing: 'leading' });
    expect(leading.timesteps.slice(0, 3)).toEqual([951, 901, 851]);
    expect(leading.initNoiseSigma).toBeCloseTo(Math.sqrt(SIGMAS[951]! ** 2 + 1), 4);
    expect(leading.initNoiseSigma).toBeCloseTo(11.07358, 4);
  });

  it('scales the UNet input by 1 / sqrt(sigma^2 + 1), sigma interpolated from 14.6146 down to 0.0292', () => {
    const scheduler = sd15('euler');
    scheduler.setTimesteps(20);
    expect(sigmaUsedAt(scheduler, 999)).toBeCloseTo(14.6146, 3);
    const fractional = scheduler.timesteps[1]!;
    expect(sigmaUsedAt(scheduled('euler', 20), fractional)).toBeCloseTo(sigmaAt(fractional), 4);
    expect(sigmaUsedAt(scheduled('euler', 20), 0)).toBeCloseTo(0.0292, 4);
    const sample = Float32Array.of(3, -1);
    const scaled = scheduled('euler', 20).scaleModelInput(sample, 999);
    expect(scaled[0]).toBeCloseTo(3 / Math.sqrt(SIGMAS[999]! ** 2 + 1), 6);
    expect(scaled).not.toBe(sample);
  });

  it('takes one Euler step in sigma: x + eps * (sigma_next - sigma)', () => {
    const scheduler = scheduled('euler', 20);
    const [t0, t1] = scheduler.timesteps as [number, number];
    const { prevSample, denoised } = scheduler.step(Float32Array.of(0.5), t0, Float32Array.of(10));
    expect(denoised?.[0]).toBeCloseTo(10 - sigmaAt(t0) * 0.5, 4);
    expect(prevSample[0]).toBeCloseTo(10 + 0.5 * (sigmaAt(t1) - sigmaAt(t0)), 4);
  });

  it('recovers the clean latents exactly for epsilon, v and sample predictions', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample'] as const) {
      const scheduler = scheduled('euler', 20, { prediction_type: prediction });
      const { start, latents } = denoiseFromNoise(scheduler, prediction);
      expect(start[0]).toBeCloseTo(CLEAN[0]! + SIGMAS[999]! * NOISE[0]!, 4);
      expect(maxAbsDiff(latents, CLEAN), prediction).toBeLessThan(1e-4);
    }
  });

  it('finds its step index from the first timestep it sees (img2img starts mid-schedule)', () => {
    const scheduler = scheduled('euler', 20);
    const t = scheduler.timesteps[6]!;
    const start = expectRecoveryFrom(scheduler, 6, 14);
    expect(start[1]).toBeCloseTo(CLEAN[1]! + sigmaAt(t) * NOISE[1]!, 4);
    expect(() => scheduled('euler', 20).step(Float32Array.of(0), 123.5, Float32Array.of(0))).toThrow(
      /not in the current schedule/,
    );
  });

  it('follows the Karras rho = 7 ramp between the table ends when use_karras_sigmas is set', () => {
    const scheduler = scheduled('euler', 10, { use_karras_sigmas: true });
    const [min, max] = [SIGMAS[0]!, SIGMAS[999]!];
    const karras = range(10, (i) => (max ** (1 / 7) + (i / 9) * (min ** (1 / 7) - max ** (1 / 7))) ** 7);
    scheduler.timesteps.forEach((t, i) => {
      expect(sigmaUsedAt(scheduler, t), `step ${i}`).toBeCloseTo(karras[i]!, 3);
      scheduler.step(Float32Array.of(0), t, Float32Array.of(0));
    });
    // Timesteps are the fractional training positions of those sigmas.
    expect(scheduler.timesteps[0]).toBe(999);
    expect(scheduler.timesteps[1]).toBeCloseTo(916.284, 2);
    expect(scheduler.timesteps.at(-1)).toBeCloseTo(0, 3);
  });

  it('matches diffusers EulerDiscreteScheduler.from_config(SD 1.5) on a fixed 20-step run', () => {
    const reference = [-23.39503, 9.777742, -10.80916, 23.82205, 6.172989, -16.13742, 16.01369, -7.494166];
    expectParity(sd15('euler'), reference);
  });
});
