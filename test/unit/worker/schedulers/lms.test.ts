import { describe, expect, it } from 'vitest';
import { lmsCoefficients } from '../../../../worker/src/diffusion/schedulers/lms.js';
import { CLEAN, denoiseFromNoise, expectParity, expectSameTimesteps } from './harness.js';
import { maxAbsDiff, scheduled, sd15 } from './harness.js';

/** Composite Simpson integration, fine enough to check a cubic to ~1e-12. */
function integrate(f: (x: number) => number, a: number, b: number, intervals = 2000): number {
  const h = (b - a) / intervals;
  let sum = f(a) + f(b);
  for (let i = 1; i < intervals; i++) sum += f(a + i * h) * (i % 2 === 1 ? 4 : 2);
  return (sum * h) / 3;
}

const SIGMAS = [14.6146, 9.7, 6.4, 4.1, 2.5, 1.1, 0];

describe('lms scheduler', () => {
  it('integrates each Lagrange basis polynomial exactly over the step', () => {
    for (const [t, order] of [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [5, 4],
    ] as const) {
      const coefficients = lmsCoefficients(SIGMAS, t, order);
      coefficients.forEach((coefficient, j) => {
        const basis = (tau: number): number => {
          let product = 1;
          for (let k = 0; k < order; k++) {
            if (k !== j) product *= (tau - SIGMAS[t - k]!) / (SIGMAS[t - j]! - SIGMAS[t - k]!);
          }
          return product;
        };
        expect(coefficient, `t=${t} j=${j}`).toBeCloseTo(integrate(basis, SIGMAS[t]!, SIGMAS[t + 1]!), 9);
      });
    }
  });

  it('has coefficients that sum to the step size (the basis polynomials sum to one)', () => {
    for (let t = 0; t < SIGMAS.length - 1; t++) {
      const sum = lmsCoefficients(SIGMAS, t, Math.min(t + 1, 4)).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(SIGMAS[t + 1]! - SIGMAS[t]!, 12);
    }
    // First order is plain Euler.
    expect(lmsCoefficients(SIGMAS, 0, 1)).toEqual([SIGMAS[1]! - SIGMAS[0]!]);
  });

  it('uses Euler linspace timesteps and recovers the clean latents from the true noise', () => {
    const scheduler = sd15('lms');
    const euler = sd15('euler');
    expectSameTimesteps(scheduler, euler);
    expect(scheduler.initNoiseSigma).toBe(euler.initNoiseSigma);
    for (const prediction of ['epsilon', 'v_prediction'] as const) {
      const { latents } = denoiseFromNoise(scheduled('lms', 20, { prediction_type: prediction }), prediction);
      expect(maxAbsDiff(latents, CLEAN), prediction).toBeLessThan(1e-4);
    }
  });

  it('matches diffusers LMSDiscreteScheduler.from_config(SD 1.5) on a fixed 20-step run', () => {
    const reference = [-23.14334, 8.532418, -10.69285, 25.51987, 6.812079, -17.27247, 16.17234, -5.711373];
    expectParity(sd15('lms'), reference);
  });
});
