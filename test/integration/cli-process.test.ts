import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../helpers/shared-fixtures.js';

const run = promisify(execFile);

describe('npx sdbot', () => {
  it('runs the TypeScript CLI right after npm ci', async () => {
    const { stdout } = await run('npx', ['--no-install', 'sdbot', '--help'], { cwd: repositoryRoot });
    expect(stdout).toContain('Usage: sdbot <command> [options]');
  });

  it('exits non-zero with the error on stderr', async () => {
    const failure = await run('npx', ['--no-install', 'sdbot', 'config'], {
      cwd: repositoryRoot,
      env: { ...process.env, SDBOT_MAX_DELIVER: 'x' },
    }).catch((error: unknown) => error as { code: number; stderr: string });
    expect('code' in failure && failure.code).toBe(1);
    expect('stderr' in failure && failure.stderr).toContain(
      'SDBOT_MAX_DELIVER: must be an integer in 1..100',
    );
  });
});
