/**
 * `npm run bench -- gpu` on a machine without a GPU: it says so and exits 0, so the command can be
 * run anywhere (on a GPU machine it measures; that run takes minutes and is not a test).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repositoryRoot, sharedFixture } from '../helpers/shared-fixtures.js';

const benchSd = sharedFixture('bench-sd');
const hasGpu = existsSync('/dev/nvidia0') || existsSync('/dev/dri');

describe.skipIf(!benchSd.available || hasGpu)(`gpu benchmark without a GPU${benchSd.skipNote}`, () => {
  it('explains that no GPU adapter exists and exits 0', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/bench/run.ts', 'gpu'], {
      cwd: repositoryRoot,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('webgpu: not available');
    expect(result.stdout).toContain('no GPU adapter or GPU execution provider could start on this machine');
    expect(result.stdout).not.toContain('s/step gpu');
  });
});
