/**
 * The real `sdbot` entry point as a child process: a refused submit ends `imagine` at once with its
 * code, and a failure nothing handled is logged (redacted) and ends the process non-zero.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeDistributed } from '../../helpers/distributed-world.js';
import { repositoryRoot } from '../../helpers/shared-fixtures.js';
import { useTemporaryDirectory } from '../../helpers/temporary-directory.js';
import { childEnv, sdbotEntryPoint } from '../../helpers/worker-process.js';

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}, limitMs = 60_000): Promise<ChildRun> {
  const started = Date.now();
  const child = spawn(process.execPath, args, {
    cwd: repositoryRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describeDistributed(
  'sdbot processes end cleanly on failures',
  (world) => {
    const directory = useTemporaryDirectory('sdbot-cli-failures-');

    beforeAll(async () => {
      await world.startWorker({ workerId: 'failures-worker', msPerStep: 5 });
    });

    it('imagine --model nope exits at once with UNKNOWN_MODEL, not after --timeout', async () => {
      const out = join(directory.path, 'nope.png');
      const result = await run(
        [sdbotEntryPoint, 'imagine', '--nats', world.url, '--model', 'nope', '--prompt', 'x', '--out', out],
        { LOG_LEVEL: 'warn' },
      );
      expect(result.stderr).toContain('error [UNKNOWN_MODEL]: no worker serves model "nope"');
      expect(result.code).toBe(1);
      expect(result.stderr).not.toMatch(/unhandled|at .*\.ts:\d+/i);
      // The default --timeout is 10 minutes; the command must not wait for it.
      expect(result.ms).toBeLessThan(30_000);
    });

    it('a rejection nobody handles is logged redacted and ends the process non-zero', async () => {
      const script = [
        "import { register } from 'tsx/esm/api';",
        'register();',
        "const { installProcessGuards } = await import('./shared/src/cli/process-guard.ts');",
        'installProcessGuards();',
        "Promise.reject(new Error('lost nats://sdbot-bot:hunter2@nats:4222'));",
        // Something that would keep the process alive for a long time.
        'setInterval(() => undefined, 1000);',
      ].join('\n');
      const result = await run(['--input-type=module', '-e', script], { LOG_LEVEL: 'info' });
      expect(result.code).toBe(70);
      const line = JSON.parse(result.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
      expect(line).toMatchObject({ level: 'fatal', msg: 'process:unhandled-rejection', code: 'INTERNAL' });
      expect(result.stderr).not.toContain('hunter2');
      expect(result.stderr).toContain('nats://[REDACTED]@nats:4222');
    });
  },
  { scope: 'file' },
);
