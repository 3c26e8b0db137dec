/** Checks and bookkeeping every scheduler shares. */
import { SdbotError, ValidationError, type SchedulerName } from '@sdbot/shared';
import type { NoiseSource } from './types.js';

/** Steps must be a whole number the training schedule can hold (and the scheduler's own cap). */
export function validateStepCount(name: SchedulerName, steps: number, max: number, maxReason: string): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > max) {
    throw new ValidationError([
      {
        field: 'steps',
        message: `the ${name} scheduler takes a whole number of steps from 1 to ${max} (${maxReason}); got ${steps}`,
      },
    ]);
  }
}

export function pastTheEnd(name: SchedulerName): SdbotError {
  return new SdbotError(
    'INTERNAL',
    `${name} scheduler: called past the last timestep; call setTimesteps() to start a new run`,
  );
}

export function notReady(name: SchedulerName, method: string): SdbotError {
  return new SdbotError('INTERNAL', `${name} scheduler: call setTimesteps() before ${method}()`);
}

export function requireSameLength(name: SchedulerName, what: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) {
    throw new SdbotError(
      'INTERNAL',
      `${name} scheduler: ${what} have different lengths (${a.length} and ${b.length})`,
    );
  }
}

/** Draws the noise an ancestral or stochastic step needs; the caller must pass its seeded source. */
export function drawNoise(name: SchedulerName, rng: NoiseSource | undefined, count: number): Float32Array {
  if (rng === undefined) {
    throw new SdbotError(
      'INTERNAL',
      `${name} scheduler: step() needs a noise source (rng) for its random part`,
    );
  }
  const noise = rng.randn(count);
  if (noise.length !== count) {
    throw new SdbotError(
      'INTERNAL',
      `${name} scheduler: the noise source returned ${noise.length} of ${count} values`,
    );
  }
  return noise;
}

/**
 * diffusers' `index_for_timestep`: the position of `t` in the schedule, taking the second of two
 * matches so a loop that starts mid-schedule on a repeated timestep begins where it should. A missing
 * timestep is an error, or the last step for the multistep solvers (their reference behaviour).
 */
export function indexForTimestep(
  name: SchedulerName,
  timesteps: readonly number[],
  t: number,
  whenMissing: 'error' | 'last',
): number {
  const first = timesteps.indexOf(t);
  if (first === -1) {
    if (whenMissing === 'last') return timesteps.length - 1;
    throw new SdbotError('INTERNAL', `${name} scheduler: timestep ${t} is not in the current schedule`);
  }
  const second = timesteps.indexOf(t, first + 1);
  return second === -1 ? first : second;
}

/** A reusable float32 buffer of the given length (reallocated only when the length changes). */
export function buffer(existing: Float32Array | null, length: number): Float32Array {
  return existing?.length === length ? existing : new Float32Array(length);
}
