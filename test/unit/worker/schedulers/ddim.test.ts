import { describe, expect, it } from 'vitest';
import { ALPHAS_CUMPROD, CLEAN, NOISE, alphaBar, denoiseFromNoise, expectParity } from './harness.js';
import { maxAbsDiff, patternNoise, range, scheduled, sd15 } from './harness.js';

describe('ddim scheduler', () => {
  it('uses leading spacing with steps_offset: arange(N) * (1000 // N) reversed + 1', () => {
    const scheduler = sd15('ddim');
    scheduler.setTimesteps(20);
    expect(scheduler.timesteps).toEqual(range(20, (i) => (19 - i) * 50 + 1));
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps).toEqual(range(50, (i) => (49 - i) * 20 + 1));
    expect(scheduler.initNoiseSigma).toBe(1);
  });

  it('supports trailing and linspace spacing from the config', () => {
    const trailing = sd15('ddim', { timestep_spacing: 'trailing' });
    trailing.setTimesteps(20);
    // round(arange(1000, 0, -50)) - 1
    expect(trailing.timesteps).toEqual(range(20, (i) => 1000 - i * 50 - 1));
    const linspace = sd15('ddim', { timestep_spacing: 'linspace' });
    linspace.setTimesteps(4);
    // round(linspace(0, 999, 4)) = 0, 333, 666, 999
    expect(linspace.timesteps).toEqual([999, 666, 333, 0]);
  });

  it('computes x0 and moves it to the previous timestep (eta 0)', () => {
    const scheduler = scheduled('ddim', 20);
    const x = 0.8;
    const eps = -0.3;
    const { prevSample, denoised } = scheduler.step(Float32Array.of(eps), 501, Float32Array.of(x));
    const a = alphaBar(501);
    const aPrev = alphaBar(451);
    const x0 = (x - Math.sqrt(1 - a) * eps) / Math.sqrt(a);
    expect(denoised?.[0]).toBeCloseTo(x0, 5);
    expect(prevSample[0]).toBeCloseTo(Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev) * eps, 5);
  });

  it('recovers the clean latents from the true noise, velocity or sample prediction', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample'] as const) {
      const { latents } = denoiseFromNoise(
        scheduled('ddim', 30, { prediction_type: prediction }),
        prediction,
      );
      const a0 = ALPHAS_CUMPROD[0]!;
      const expected = CLEAN.map((c, i) => Math.sqrt(a0) * c + Math.sqrt(1 - a0) * NOISE[i]!);
      expect(maxAbsDiff(latents, expected), prediction).toBeLessThan(1e-4);
    }
  });

  it('clips x0 when clip_sample is on (the DDIM default when the config does not say)', () => {
    const config = { beta_schedule: 'scaled_linear' as const, beta_start: 0.00085, beta_end: 0.012 };
    const clipped = scheduled('ddim', 10, { ...config, clip_sample: true, clip_sample_range: 0.5 });
    expect(clipped.step(Float32Array.of(-3), 901, Float32Array.of(0)).denoised?.[0]).toBe(0.5);
  });

  it('adds eta-scaled noise from the rng when eta > 0, and needs the rng then', () => {
    const scheduler = scheduled('ddim', 10, { eta: 1 });
    const rng = patternNoise();
    const noisy = scheduler.step(Float32Array.of(0.1, 0.2), 901, Float32Array.of(0.3, 0.4), rng).prevSample;
    expect(rng.calls).toBe(1);
    const a = alphaBar(901);
    const aPrev = alphaBar(801);
    const variance = ((1 - aPrev) / (1 - a)) * (1 - a / aPrev);
    const x0 = (0.3 - Math.sqrt(1 - a) * 0.1) / Math.sqrt(a);
    const noise = (((0 + 0) % 13) - 6) / 4;
    const expected =
      Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev - variance) * 0.1 + Math.sqrt(variance) * noise;
    expect(noisy[0]).toBeCloseTo(expected, 5);
    expect(() => scheduler.step(Float32Array.of(0.1), 801, Float32Array.of(0.3))).toThrow(/noise source/);
  });

  it('matches diffusers DDIMScheduler.from_config(SD 1.5) on fixed 20-step runs (eta 0 and 0.5)', () => {
    const reference = [-17.98688, 7.422921, -8.124478, 18.27472, 4.463484, -12.42973, 12.2717, -5.37604];
    expectParity(sd15('ddim'), reference);
    const stochastic = [-21.01422, 10.2039, -10.77972, 17.00877, 4.303669, -12.14233, 9.145844, -3.448812];
    expectParity(sd15('ddim', { eta: 0.5 }), stochastic);
  });
});
