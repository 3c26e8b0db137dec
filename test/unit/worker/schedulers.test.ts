import { SCHEDULER_NAMES, SdbotError, ValidationError, type SchedulerName } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../worker/src/diffusion/schedulers/index.js';
import { SD15_CONFIG, sd15 } from './schedulers/harness.js';

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

const IMPLEMENTED: SchedulerName[] = ['pndm', 'ddim'];

describe('createScheduler', () => {
  it('refuses an unknown scheduler name with INVALID_INPUT, naming it and listing the valid ones', () => {
    const error = thrown(() => createScheduler('karras_magic' as SchedulerName, SD15_CONFIG));
    expect(error).toBeInstanceOf(SdbotError);
    expect((error as SdbotError).code).toBe('INVALID_INPUT');
    expect((error as SdbotError).message).toContain('karras_magic');
    for (const name of IMPLEMENTED) expect((error as SdbotError).message).toContain(name);
  });

  it('knows only names from SCHEDULER_NAMES', () => {
    for (const name of IMPLEMENTED) {
      expect(SCHEDULER_NAMES).toContain(name);
    }
  });

  it('ignores keys of other scheduler classes and reports a malformed known key as MODEL_INVALID', () => {
    expect(() =>
      createScheduler('pndm', { ...SD15_CONFIG, solver_type: 'bh2', some_future_key: [1] }),
    ).not.toThrow();
    const error = thrown(() =>
      createScheduler('pndm', { ...SD15_CONFIG, beta_schedule: 'cubic' as 'linear' }),
    );
    expect((error as SdbotError).code).toBe('MODEL_INVALID');
    expect((error as SdbotError).message).toContain('beta_schedule');
    expect((error as SdbotError).message).toContain('cubic');
  });
});

describe.each(IMPLEMENTED)('%s scheduler contract', (name) => {
  it('rejects step counts of 0, above num_train_timesteps, or fractional, naming the steps field', () => {
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

  it('refuses step() before setTimesteps() with a message saying so', () => {
    const error = thrown(() => sd15(name).step(new Float32Array(4), 1, new Float32Array(4)));
    expect((error as SdbotError).message).toContain('setTimesteps');
  });

  it('is deterministic: two schedulers fed the same inputs give identical outputs', () => {
    const run = (): Float32Array => {
      const scheduler = sd15(name);
      scheduler.setTimesteps(8);
      let latents: Float32Array = Float32Array.from(
        { length: 16 },
        (_, i) => Math.sin(i) * scheduler.initNoiseSigma,
      );
      scheduler.timesteps.forEach((t, k) => {
        const input = scheduler.scaleModelInput(latents, t);
        const output = input.map((v, i) => Math.cos(v + k + i) * 0.5);
        latents = scheduler.step(output, t, latents).prevSample;
      });
      return latents;
    };
    expect(run()).toEqual(run());
  });
});
