/**
 * When a slot asks for its next job: once the steps left of its job should take under
 * NEXT_JOB_LEAD_MS at its pace (the faster of the last step and the mean since the first), if that
 * pace is that fast too; a slot with slower steps asks only once it is free.
 */
import { describe, expect, it } from 'vitest';
import { NEXT_JOB_LEAD_MS, nextJobPace } from '../../../worker/src/service/pull-loop.js';

/** The step at which the pace first says "ending soon" for steps of `stepMs`, or null. */
function askingStep(total: number, stepMs: (step: number) => number): number | null {
  let now = 0;
  let asked: number | null = null;
  const pace = nextJobPace(
    () => {
      asked ??= current;
    },
    () => now,
  );
  let current = 0;
  for (current = 1; current <= total; current += 1) {
    now += stepMs(current);
    pace(current, total);
  }
  return asked;
}

describe('nextJobPace', () => {
  it('asks when the steps left take under the lead at the last pace', () => {
    expect(NEXT_JOB_LEAD_MS).toBe(100);
    // 50 ms steps (a fast GPU): two steps left are 100 ms.
    expect(askingStep(20, () => 50)).toBe(18);
    // 10 ms steps: ten steps left are 100 ms.
    expect(askingStep(20, () => 10)).toBe(10);
  });

  it('asks at the last step at the latest', () => {
    expect(askingStep(20, () => 100)).toBe(19);
    expect(askingStep(1, () => 80)).toBe(1);
  });

  it('does not ask early while steps take longer than the lead (a CPU worker)', () => {
    expect(askingStep(20, () => 300)).toBeNull();
    expect(askingStep(1, () => 5000)).toBeNull();
  });

  it('follows the pace as it changes', () => {
    // Slow steps at first (a warm-up), then 20 ms ones: five steps left are 100 ms.
    expect(askingStep(30, (step) => (step <= 10 ? 400 : 20))).toBe(25);
  });

  it('still asks early when steps near the end run late (the process paused)', () => {
    // 50 ms steps, the 18th and 19th late: at the 19th the mean since the first is 61 ms.
    expect(askingStep(20, (step) => (step === 18 || step === 19 ? 150 : 50))).toBe(19);
    // The first step holds the job's setup (the text encoder, a source image): not the pace.
    expect(askingStep(20, (step) => (step === 1 ? 2000 : 50))).toBe(18);
  });
});
