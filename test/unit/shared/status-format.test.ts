import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../../shared/src/cli/status-command.js';
import type { JobSystemStatus } from '../../../shared/src/nats/status.js';
import type { WorkerHeartbeat } from '../../../shared/src/protocol/worker.js';
import { exampleHeartbeat } from '../../helpers/messages.js';

/** An idle cuda worker gpu-1 serving sd15 with the checker on, as of `at`; `overrides` change it. */
function worker(overrides: Partial<WorkerHeartbeat>): WorkerHeartbeat {
  return exampleHeartbeat({
    hostname: 'gpu-1',
    models: [{ id: 'sd15', name: 'sd15', safetyChecker: true }],
    throughput: { jobsPerMinute: 0, stepsPerSecond: 0 },
    ...overrides,
  });
}

const { at } = exampleHeartbeat();

function status(workers: WorkerHeartbeat[]): JobSystemStatus {
  return { at, workers, queues: [], deadLetters: { count: 0, recent: [] } };
}

/** The status text of gpu-1 serving sd15 (checker on) and `more`. */
function textServing(...more: WorkerHeartbeat['models']): string {
  return formatStatus(
    status([worker({ models: [{ id: 'sd15', name: 'sd15', safetyChecker: true }, ...more] })]),
  );
}

describe('sdbot status text', () => {
  it('says which models a worker serves with the safety checker off', () => {
    const text = textServing({ id: 'dreamshaper', name: 'dreamshaper', safetyChecker: false });
    expect(text).toMatch(/gpu-1 +sd15,dreamshaper \(safety checker: OFF\) +cuda/);
  });

  it('leaves models with a checker, and simulated workers, unmarked', () => {
    const text = formatStatus(
      status([
        worker({}),
        worker({
          workerId: 'sim-1',
          simulated: true,
          provider: 'cpu',
          models: [{ id: 'sim', name: 'sim (simulated)', safetyChecker: false }],
        }),
      ]),
    );
    expect(text).not.toContain('safety checker');
    expect(text).toMatch(/gpu-1 +sd15 +cuda/);
  });

  it('lists upscalers with their scale, not as models without a checker', () => {
    const text = textServing({
      id: 'realesrgan-x4',
      name: 'realesrgan-x4',
      safetyChecker: false,
      upscaler: { scale: 4 },
    });
    expect(text).toMatch(/gpu-1 +sd15,realesrgan-x4 \(upscaler 4x\) +cuda/);
    expect(text).not.toContain('safety checker');
  });
});

describe('sdbot status workers table', () => {
  it('shows slots as busy/free and images per minute, or a dash for workers that do not report it', () => {
    const text = formatStatus(
      status([
        worker({
          slots: { total: 2, free: 1 },
          throughput: { jobsPerMinute: 3, stepsPerSecond: 1.5, imagesPerMinute: 12 },
        }),
        worker({ workerId: 'old-1' }),
      ]),
    );
    expect(text).toMatch(/ID +MODELS +PROVIDER +BUSY\/FREE +JOBS\/MIN +IMAGES\/MIN +STEPS\/S +SEEN/);
    expect(text).toMatch(/gpu-1 +sd15 +cuda +1\/1 +3\.0 +12\.0 +1\.5 +0s ago/);
    expect(text).toMatch(/old-1 +sd15 +cuda +0\/1 +0\.0 +- +0\.0/);
  });
});
