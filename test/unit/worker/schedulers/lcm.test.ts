import { ValidationError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { CLEAN, NOISE, alphaBar, denoise, expectParity, maxAbsDiff, oracle } from './harness.js';
import { patternNoise, range, scheduled, sd15 } from './harness.js';

describe('lcm scheduler', () => {
  it('picks N timesteps from the 50-step distillation grid 999, 979, ..., 19', () => {
    const scheduler = sd15('lcm');
    scheduler.setTimesteps(4);
    expect(scheduler.timesteps).toEqual([999, 759, 499, 259]);
    scheduler.setTimesteps(20);
    const grid = range(50, (j) => 999 - 20 * j);
    expect(scheduler.timesteps).toEqual(range(20, (i) => grid[Math.floor((i * 50) / 20)]!));
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps).toEqual(grid);
    expect(scheduler.initNoiseSigma).toBe(1);
  });

  it('refuses more steps than original_inference_steps', () => {
    expect(() => {
      sd15('lcm').setTimesteps(51);
    }).toThrow(ValidationError);
    expect(() => {
      sd15('lcm').setTimesteps(51);
    }).toThrow(/original_inference_steps/);
  });

  it('applies the consistency boundary scalings and re-noises to the next timestep', () => {
    const scheduler = scheduled('lcm', 4);
    const rng = patternNoise();
    const x = 0.4;
    const eps = 0.2;
    const { prevSample, denoised } = scheduler.step(Float32Array.of(eps), 999, Float32Array.of(x), rng);
    const scaled = 9990;
    const cSkip = 0.25 / (scaled ** 2 + 0.25);
    const cOut = scaled / Math.sqrt(scaled ** 2 + 0.25);
    const x0 = (x - Math.sqrt(1 - alphaBar(999)) * eps) / Math.sqrt(alphaBar(999));
    const clean = cOut * x0 + cSkip * x;
    expect(denoised?.[0]).toBeCloseTo(clean, 4);
    const noise = -6 / 4; // patternNoise call 0, element 0
    expect(prevSample[0]).toBeCloseTo(
      Math.sqrt(alphaBar(759)) * clean + Math.sqrt(1 - alphaBar(759)) * noise,
      4,
    );
  });

  it('draws noise at every step but the last, and recovers the clean latents from the true noise', () => {
    const scheduler = scheduled('lcm', 4);
    let draws = 0;
    const sameNoise = {
      randn: (): Float32Array => {
        draws++;
        return NOISE.slice();
      },
    };
    const start = scheduler.addNoise(CLEAN, NOISE, 999);
    const { latents } = denoise(scheduler, start, oracle('epsilon'), { rng: sameNoise });
    expect(draws).toBe(3);
    expect(maxAbsDiff(latents, CLEAN)).toBeLessThan(1e-3);
  });

  it('matches diffusers LCMScheduler.from_config(SD 1.5) given the same noise', () => {
    const reference = [-32.02243, 17.29058, -21.39357, 15.45464, 11.30646, -9.108496, -3.479655, -7.787297];
    expectParity(sd15('lcm'), reference);
  });
});
