import { SCHEDULER_NAMES, SdbotError, ValidationError, type SchedulerName } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../worker/src/diffusion/schedulers/index.js';
import { SD15_CONFIG, SIGMAS, alphaBar, patternNoise, sd15, sigmaAt } from './schedulers/harness.js';

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** How many UNet calls N steps take. */
const CALLS: Record<SchedulerName, (steps: number) => number> = {
  pndm: (n) => n + 1,
  ddim: (n) => n,
  euler: (n) => n,
  euler_a: (n) => n,
  lms: (n) => n,
  heun: (n) => 2 * n - 1,
  dpmpp_2m: (n) => n,
  dpmpp_2m_karras: (n) => n,
  unipc: (n) => n,
  lcm: (n) => n,
};

/** Schedulers on sigma-space samples `x0 + sigma eps` (the rest work on `sqrt(abar) x0 + sqrt(1-abar) eps`). */
const SIGMA_SPACE = new Set<SchedulerName>(['euler', 'euler_a', 'lms', 'heun']);

const ready = (name: SchedulerName, steps: number) => {
  const scheduler = sd15(name);
  scheduler.setTimesteps(steps);
  return scheduler;
};

describe('createScheduler', () => {
  it('refuses an unknown scheduler name with INVALID_INPUT, naming it and listing the valid ones', () => {
    const error = thrown(() => createScheduler('karras_magic' as SchedulerName, SD15_CONFIG));
    expect(error).toBeInstanceOf(SdbotError);
    expect((error as SdbotError).code).toBe('INVALID_INPUT');
    expect((error as SdbotError).message).toContain('karras_magic');
    for (const name of SCHEDULER_NAMES) expect((error as SdbotError).message).toContain(name);
  });

  it('builds every scheduler of SCHEDULER_NAMES from the SD 1.5 (PNDM) config, under its own name', () => {
    for (const name of SCHEDULER_NAMES) expect(sd15(name).name).toBe(name);
  });

  it('ignores keys of other scheduler classes and reports a malformed known key as MODEL_INVALID', () => {
    expect(() =>
      createScheduler('pndm', { ...SD15_CONFIG, solver_type: 'bh2', some_future_key: [1] }),
    ).not.toThrow();
    const error = thrown(() =>
      createScheduler('euler', { ...SD15_CONFIG, beta_schedule: 'cubic' as 'linear' }),
    );
    expect((error as SdbotError).code).toBe('MODEL_INVALID');
    expect((error as SdbotError).message).toContain('beta_schedule');
    expect((error as SdbotError).message).toContain('cubic');
    const steps = thrown(() => createScheduler('ddim', { ...SD15_CONFIG, steps_offset: -1 }));
    expect((steps as SdbotError).message).toContain('steps_offset');
  });

  it('refuses diffusers options it does not reproduce instead of silently ignoring them', () => {
    const error = thrown(() => createScheduler('dpmpp_2m', { ...SD15_CONFIG, thresholding: true }));
    expect((error as SdbotError).code).toBe('MODEL_INVALID');
    expect((error as SdbotError).message).toContain('thresholding');
  });
});

describe.each(SCHEDULER_NAMES)('%s scheduler contract', (name) => {
  it('lists descending training timesteps for 20 and 50 steps, one UNet call per entry', () => {
    for (const steps of [20, 50]) {
      const { timesteps } = ready(name, steps);
      expect(timesteps).toHaveLength(CALLS[name](steps));
      timesteps.forEach((t, i) => {
        expect(t).toBeGreaterThanOrEqual(0);
        expect(t).toBeLessThanOrEqual(999);
        if (i > 0) expect(t).toBeLessThanOrEqual(timesteps[i - 1]!);
      });
    }
  });

  it('starts from the right noise level and scales the UNet input for its parameterization', () => {
    const scheduler = ready(name, 20);
    const first = scheduler.timesteps[0]!;
    const sample = Float32Array.of(2, -3);
    const scaled = scheduler.scaleModelInput(sample, first);
    expect(scaled).not.toBe(sample);
    if (SIGMA_SPACE.has(name)) {
      // Linspace spacing (their default) starts at the top of the table: sigma_max = 14.6146.
      expect(scheduler.initNoiseSigma).toBeCloseTo(SIGMAS[999]!, 4);
      expect(scaled[1]).toBeCloseTo(-3 / Math.sqrt(sigmaAt(first) ** 2 + 1), 5);
    } else {
      expect(scheduler.initNoiseSigma).toBe(1);
      expect(scaled).toEqual(sample);
    }
  });

  it('adds noise for img2img in its own parameterization', () => {
    const scheduler = ready(name, 20);
    const t = scheduler.timesteps[6]!;
    const signal = scheduler.addNoise(Float32Array.of(1), Float32Array.of(0), t)[0]!;
    const noise = scheduler.addNoise(Float32Array.of(0), Float32Array.of(1), t)[0]!;
    if (SIGMA_SPACE.has(name)) {
      expect(signal).toBe(1);
      expect(noise).toBeCloseTo(sigmaAt(t), 4);
    } else if (name === 'dpmpp_2m_karras') {
      expect(signal ** 2 + noise ** 2).toBeCloseTo(1, 5);
    } else {
      expect(signal).toBeCloseTo(Math.sqrt(alphaBar(t)), 5);
      expect(noise).toBeCloseTo(Math.sqrt(1 - alphaBar(t)), 5);
    }
  });

  it('rejects step counts of 0, above its maximum, or fractional, naming the steps field', () => {
    const scheduler = sd15(name);
    for (const steps of [0, 1001, 2.5, -3]) {
      const error = thrown(() => {
        scheduler.setTimesteps(steps);
      });
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe('INVALID_INPUT');
      expect((error as ValidationError).issues[0]?.field).toBe('steps');
    }
  });

  it('refuses step() before setTimesteps() and after the last timestep, saying what to do', () => {
    expect(() => sd15(name).step(new Float32Array(4), 999, new Float32Array(4))).toThrow(/setTimesteps/);
    const scheduler = ready(name, 3);
    const rng = patternNoise();
    let latents: Float32Array = new Float32Array(4).fill(0.5);
    for (const t of scheduler.timesteps)
      latents = scheduler.step(Float32Array.of(0.1, 0.2, 0.3, 0.4), t, latents, rng).prevSample;
    if (name !== 'pndm' && name !== 'ddim') {
      // Index-tracking schedulers know when a run is over (PNDM and DDIM count from the timestep alone).
      expect(() => scheduler.step(new Float32Array(4), scheduler.timesteps.at(-1)!, latents, rng)).toThrow(
        /setTimesteps/,
      );
    }
  });

  it('is deterministic, never modifies its inputs and returns fresh arrays', () => {
    const run = (): Float32Array[] => {
      const scheduler = ready(name, 8);
      const rng = patternNoise();
      const outputs: Float32Array[] = [];
      let latents: Float32Array = Float32Array.from(
        { length: 16 },
        (_, i) => Math.sin(i) * scheduler.initNoiseSigma,
      );
      scheduler.timesteps.forEach((t, k) => {
        const input = scheduler.scaleModelInput(latents, t);
        const output = input.map((v, i) => Math.cos(v + k + i) * 0.5);
        const before = [...latents, ...output];
        const { prevSample } = scheduler.step(output, t, latents, rng);
        expect([...latents, ...output]).toEqual(before);
        expect(prevSample).not.toBe(latents);
        outputs.push(prevSample);
        latents = prevSample;
      });
      return outputs;
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(first.every((latents) => latents.every(Number.isFinite))).toBe(true);
  });
});

describe('stochastic schedulers', () => {
  it.each(['euler_a', 'lcm'] as const)('%s needs the rng and follows it', (name) => {
    const scheduler = ready(name, 4);
    const t = scheduler.timesteps[0]!;
    expect(() => scheduler.step(Float32Array.of(0.1), t, Float32Array.of(0.2))).toThrow(/noise source/);
    const other = { randn: (count: number) => new Float32Array(count).fill(3) };
    const a = ready(name, 4).step(Float32Array.of(0.1), t, Float32Array.of(0.2), patternNoise()).prevSample;
    const b = ready(name, 4).step(Float32Array.of(0.1), t, Float32Array.of(0.2), other).prevSample;
    expect(a[0]).not.toBeCloseTo(b[0]!, 3);
  });
});
