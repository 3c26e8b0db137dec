import { describe, expect, it } from 'vitest';
import { CLEAN, denoise, denoiseFromNoise, expectParity, expectSameTimesteps } from './harness.js';
import { fakeModelOutput, maxAbsDiff, scheduled, sd15 } from './harness.js';

describe('unipc scheduler', () => {
  it('shares the multistep timesteps of DPM-Solver and needs no input scaling', () => {
    const scheduler = sd15('unipc');
    expectSameTimesteps(scheduler, sd15('dpmpp_2m'));
    expect(scheduler.initNoiseSigma).toBe(1);
    expect(scheduler.scaleModelInput(Float32Array.of(2), 999)).toEqual(Float32Array.of(2));
  });

  it('recovers the clean latents for epsilon, v and sample predictions, with one UNet call per step', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample'] as const) {
      const scheduler = scheduled('unipc', 12, { prediction_type: prediction });
      const { latents, calls } = denoiseFromNoise(scheduler, prediction);
      expect(calls).toHaveLength(12);
      expect(maxAbsDiff(latents, CLEAN), prediction).toBeLessThan(1e-4);
    }
  });

  it('corrects each previous step with the new model output (disable_corrector turns it off)', () => {
    const run = (config: { disable_corrector?: number[] }): Float32Array => {
      return denoise(scheduled('unipc', 6, config), Float32Array.of(1, -1, 0.5, 2), (_input, _t, call) =>
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
    expectParity(sd15('unipc'), reference);
  });
});
