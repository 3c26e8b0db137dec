import { describe, expect, it } from 'vitest';
import { CLEAN, NOISE, denoise, fakeModelOutput, maxAbsDiff, oracle, parityRun, sd15 } from './harness.js';

describe('unipc scheduler', () => {
  it('shares the multistep timesteps of DPM-Solver and needs no input scaling', () => {
    const scheduler = sd15('unipc');
    const dpm = sd15('dpmpp_2m');
    for (const steps of [50, 20]) {
      scheduler.setTimesteps(steps);
      dpm.setTimesteps(steps);
      expect(scheduler.timesteps).toEqual(dpm.timesteps);
    }
    expect(scheduler.initNoiseSigma).toBe(1);
    expect(scheduler.scaleModelInput(Float32Array.of(2), 999)).toEqual(Float32Array.of(2));
  });

  it('recovers the clean latents for epsilon, v and sample predictions, with one UNet call per step', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample'] as const) {
      const scheduler = sd15('unipc', { prediction_type: prediction });
      scheduler.setTimesteps(12);
      const start = scheduler.addNoise(CLEAN, NOISE, scheduler.timesteps[0]!);
      const { latents, calls } = denoise(scheduler, start, oracle(prediction));
      expect(calls).toHaveLength(12);
      expect(maxAbsDiff(latents, CLEAN), prediction).toBeLessThan(1e-4);
    }
  });

  it('corrects each previous step with the new model output (disable_corrector turns it off)', () => {
    const run = (config: { disable_corrector?: number[] }): Float32Array => {
      const scheduler = sd15('unipc', config);
      scheduler.setTimesteps(6);
      return denoise(scheduler, Float32Array.of(1, -1, 0.5, 2), (_input, _t, call) =>
        fakeModelOutput(call, 4),
      ).latents;
    };
    const corrected = run({});
    const uncorrected = run({ disable_corrector: [0, 1, 2, 3, 4, 5] });
    expect(maxAbsDiff(corrected, uncorrected)).toBeGreaterThan(1e-3);
    // Disabling the corrector after step 0 only changes what happens at step 1 onwards.
    expect(run({ disable_corrector: [0] })).not.toEqual(corrected);
  });

  it('matches diffusers UniPCMultistepScheduler.from_config(SD 1.5) on a fixed 20-step run', () => {
    const reference = [-25.42578, 8.552853, -10.3253, 25.3339, 4.708421, -16.24656, 16.64026, -5.494606];
    expect(maxAbsDiff(parityRun(sd15('unipc'), 20), reference)).toBeLessThan(2e-4);
  });
});
