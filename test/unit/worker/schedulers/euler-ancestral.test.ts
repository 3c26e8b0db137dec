import { SdbotError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { SIGMAS, expectParity, expectSameTimesteps, patternNoise } from './harness.js';
import { scheduled, sd15, sigmaAt } from './harness.js';

describe('euler_a scheduler (Euler ancestral)', () => {
  it('shares Euler linspace timesteps and initial sigma', () => {
    const ancestral = sd15('euler_a');
    expectSameTimesteps(ancestral, sd15('euler'));
    expect(ancestral.initNoiseSigma).toBeCloseTo(SIGMAS[999]!, 4);
  });

  it('steps down to sigma_down, then adds sigma_up of fresh noise from the rng', () => {
    const scheduler = scheduled('euler_a', 10);
    const [t0, t1] = scheduler.timesteps as [number, number];
    const rng = patternNoise();
    const { prevSample } = scheduler.step(Float32Array.of(0.5, -0.25), t0, Float32Array.of(10, 4), rng);
    const [from, to] = [sigmaAt(t0), sigmaAt(t1)];
    const up = Math.sqrt((to ** 2 * (from ** 2 - to ** 2)) / from ** 2);
    const down = Math.sqrt(to ** 2 - up ** 2);
    const firstNoise = [-6 / 4, (7 - 6) / 4]; // patternNoise call 0
    expect(prevSample[0]).toBeCloseTo(10 + 0.5 * (down - from) + firstNoise[0]! * up, 4);
    expect(prevSample[1]).toBeCloseTo(4 - 0.25 * (down - from) + firstNoise[1]! * up, 4);
    expect(up ** 2 + down ** 2).toBeCloseTo(to ** 2, 8);
  });

  it('draws one noise array per step, the last included, and refuses to step without an rng', () => {
    const scheduler = scheduled('euler_a', 6);
    const rng = patternNoise();
    let x: Float32Array = Float32Array.of(1, 2, 3);
    for (const t of scheduler.timesteps)
      x = scheduler.step(Float32Array.of(0.1, 0.2, 0.3), t, x, rng).prevSample;
    expect(rng.calls).toBe(6);
    scheduler.setTimesteps(6);
    expect(() => scheduler.step(Float32Array.of(0), scheduler.timesteps[0]!, Float32Array.of(0))).toThrow(
      /noise source/,
    );
  });

  it('rejects sample prediction, which diffusers does not implement for it', () => {
    expect(() => sd15('euler_a', { prediction_type: 'sample' })).toThrow(SdbotError);
  });

  it('matches diffusers EulerAncestralDiscreteScheduler.from_config(SD 1.5) given the same noise', () => {
    const reference = [-30.76928, 16.66956, -17.93465, 19.71106, 6.585348, -14.24098, 6.764441, -4.090319];
    expectParity(sd15('euler_a'), reference);
  });
});
