/**
 * How each scheduler family picks its inference timesteps from the training range (Table 2 of
 * "Common Diffusion Noise Schedules and Sample Steps are Flawed"), each with the exact numpy
 * arithmetic of its diffusers class. All schedules are descending.
 */
import type { TimestepSpacing } from './config.js';
import { f32, numpyArange, numpyLinspace, roundHalfEven } from './numeric.js';

/**
 * `round(arange(start, 0, -ratio)) - 1`. numpy's float arange can add a final near-zero element for
 * some step counts (61, 103, ...), which would become timestep -1; it is dropped here.
 */
function trailing(start: number, ratio: number): number[] {
  return numpyArange(start, 0, -ratio)
    .map((value) => roundHalfEven(value) - 1)
    .filter((t) => t >= 0);
}

function leading(count: number, ratio: number, stepsOffset: number): number[] {
  return Array.from({ length: count }, (_, i) => (count - 1 - i) * ratio + stepsOffset);
}

/**
 * A descending schedule of `steps` timesteps from the training range; `linspaceValue` turns the
 * evenly spaced float positions of linspace spacing into timesteps.
 */
function spacedTimesteps(
  linspaceValue: (position: number) => number,
  spacing: TimestepSpacing,
  steps: number,
  trainSteps: number,
  stepsOffset: number,
): number[] {
  if (spacing === 'linspace')
    return numpyLinspace(0, trainSteps - 1, steps)
      .map(linspaceValue)
      .reverse();
  if (spacing === 'leading') return leading(steps, Math.floor(trainSteps / steps), stepsOffset);
  return trailing(trainSteps, trainSteps / steps);
}

/** Integer timesteps of the DDPM-type schedulers (DDIM, PNDM). */
export function discreteTimesteps(
  spacing: TimestepSpacing,
  steps: number,
  trainSteps: number,
  stepsOffset: number,
): number[] {
  return spacedTimesteps(roundHalfEven, spacing, steps, trainSteps, stepsOffset);
}

/**
 * Timesteps of the sigma schedulers (Euler, Euler ancestral, LMS, Heun): float32, and fractional
 * under linspace spacing (the sigma is interpolated between training timesteps).
 */
export function continuousTimesteps(
  spacing: TimestepSpacing,
  steps: number,
  trainSteps: number,
  stepsOffset: number,
): number[] {
  return spacedTimesteps(f32, spacing, steps, trainSteps, stepsOffset);
}

/**
 * Integer timesteps of the multistep solvers (DPM-Solver, UniPC): they space `steps + 1` points and
 * drop the last, so the final step lands on sigma zero rather than on timestep 0. `lastTimestep` is
 * below the training length when the schedule's low-lambda tail is clipped.
 */
export function multistepTimesteps(
  spacing: TimestepSpacing,
  steps: number,
  trainSteps: number,
  lastTimestep: number,
  stepsOffset: number,
): number[] {
  if (spacing === 'linspace') {
    return numpyLinspace(0, lastTimestep - 1, steps + 1)
      .map(roundHalfEven)
      .reverse()
      .slice(0, steps);
  }
  if (spacing === 'leading') {
    return leading(steps + 1, Math.floor(lastTimestep / (steps + 1)), stepsOffset).slice(0, steps);
  }
  return trailing(lastTimestep, trainSteps / steps);
}
