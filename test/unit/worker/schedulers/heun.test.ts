import { describe, expect, it } from 'vitest';
import { CLEAN, denoiseFromNoise, expectParity, expectRecoveryFrom, maxAbsDiff } from './harness.js';
import { scheduled, sd15, sigmaAt } from './harness.js';

describe('heun scheduler', () => {
  it('lists every timestep after the first twice: 2N - 1 UNet calls', () => {
    const scheduler = sd15('heun');
    scheduler.setTimesteps(5);
    // linspace(0, 999, 5) reversed = 999, 749.25, 499.5, 249.75, 0
    expect(scheduler.timesteps).toEqual([999, 749.25, 749.25, 499.5, 499.5, 249.75, 249.75, 0, 0]);
    const euler = sd15('euler');
    for (const steps of [20, 50]) {
      scheduler.setTimesteps(steps);
      euler.setTimesteps(steps);
      expect(scheduler.timesteps).toEqual(euler.timesteps.flatMap((t, i) => (i === 0 ? [t] : [t, t])));
    }
    scheduler.setTimesteps(20);
    expect(scheduler.timesteps).toHaveLength(39);
    expect(denoiseFromNoise(scheduler).calls).toHaveLength(39);
  });

  it('predicts with Euler, then corrects from the saved sample with the mean of both slopes', () => {
    const scheduler = scheduled('heun', 5);
    const [s0, s1] = [sigmaAt(999), sigmaAt(749.25)];
    const x = 8;
    const predicted = scheduler.step(Float32Array.of(0.5), 999, Float32Array.of(x)).prevSample[0]!;
    expect(predicted).toBeCloseTo(x + 0.5 * (s1 - s0), 4);
    // The corrector sees the model at the predicted sample and sigma s1.
    expect(scheduler.scaleModelInput(Float32Array.of(1), 749.25)[0]).toBeCloseTo(
      1 / Math.sqrt(s1 * s1 + 1),
      6,
    );
    const corrected = scheduler.step(Float32Array.of(0.3), 749.25, Float32Array.of(predicted)).prevSample[0]!;
    expect(corrected).toBeCloseTo(x + ((0.5 + 0.3) / 2) * (s1 - s0), 4);
  });

  it('recovers the clean latents for epsilon, v and sample predictions', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample'] as const) {
      const { latents } = denoiseFromNoise(
        scheduled('heun', 10, { prediction_type: prediction }),
        prediction,
      );
      expect(maxAbsDiff(latents, CLEAN), prediction).toBeLessThan(1e-4);
    }
  });

  it('can start mid-schedule at a step boundary (an even index: 2 x the step number)', () => {
    // Index 6 is the second listing of the 4th timestep: the predictor call of step 3.
    expectRecoveryFrom(scheduled('heun', 10), 6, 13);
  });

  it('matches diffusers HeunDiscreteScheduler.from_config(SD 1.5) on a fixed 20-step run', () => {
    const reference = [-25.10491, 9.989843, -10.58964, 24.93747, 5.028944, -16.93138, 16.92058, -5.677643];
    expectParity(sd15('heun'), reference);
  });
});
