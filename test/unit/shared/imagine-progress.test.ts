import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ImagineBar, stepsToRun } from '../../../shared/src/cli/imagine-progress.js';
import type { Progress } from '../../../shared/src/protocol/progress.js';

/** A stream that says it is a terminal, recording what the bar draws. */
function terminal() {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
  let drawn = '';
  stream.on('data', (chunk: Buffer) => (drawn += chunk.toString()));
  return { stream, drawn: () => drawn };
}

function progress(step: number, total: number): Progress {
  return { v: 1, jobId: 'cli-job', workerId: 'w', step, total, at: 0 };
}

describe('the imagine progress bar', () => {
  it('shows the steps asked for and names PNDM’s warm-up call instead of counting 9 of 9 for 8 steps', () => {
    const { stream, drawn } = terminal();
    let now = 0;
    const bar = new ImagineBar({ stream, scheduler: 'pndm', steps: 8, now: () => now });
    bar.queued(2);
    for (let step = 1; step <= 9; step += 1) {
      now += 500;
      bar.step(progress(step, 9));
    }
    bar.stop();
    const text = drawn();
    expect(text).toContain('queued, 2 jobs ahead');
    expect(text).toMatch(/100% \| step 8\/8 \| 2\.00 it\/s \| ETA 0s \| \(\+1 PNDM warm-up call\)/);
    expect(text).not.toMatch(/step \d\/9/);
  });

  it('counts img2img in the strength share of the steps, and no note when calls equal steps', () => {
    expect(stepsToRun({ steps: 30, strength: 0.5, source: {} })).toBe(15);
    expect(stepsToRun({ steps: 30, strength: 0.5 })).toBe(30);
    const { stream, drawn } = terminal();
    const bar = new ImagineBar({ stream, scheduler: 'euler', steps: 15, now: () => 0 });
    bar.step(progress(15, 15));
    bar.stop();
    expect(drawn()).toMatch(/100% \| step 15\/15 \| -- it\/s \| ETA --/);
    expect(drawn()).not.toContain('warm-up');
  });
});
