/**
 * `sdbot worker` as a real child process (node + the tsx entry point), for tests that kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { JobsClient } from '@sdbot/shared';
import { repositoryRoot } from './shared-fixtures.js';

export interface WorkerProcess {
  id: string;
  child: ChildProcess;
  /** stderr (pino logs) so far, for diagnosing a failure. */
  log(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export const sdbotEntryPoint = join(repositoryRoot, 'shared/bin/sdbot.js');

/** Environment for a child sdbot: PATH and HOME from this process, nothing else inherited. */
export function childEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env };
}

export function spawnWorker(
  url: string,
  {
    id,
    models = ['sim'],
    msPerStep = 20,
    env = {},
  }: { id: string; models?: string[]; msPerStep?: number; env?: NodeJS.ProcessEnv },
): WorkerProcess {
  const args = [sdbotEntryPoint, 'worker', '--nats', url, '--id', id, '--simulate', String(msPerStep)];
  for (const model of models) args.push('--model', model);
  const child = spawn(process.execPath, args, {
    cwd: repositoryRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-50_000);
  });
  child.stdout.resume();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(child);
      resolve();
    });
  });
  return {
    id,
    child,
    log: () => log,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Resolves once every worker id is in the registry (the worker finished starting). */
export async function waitForWorkers(client: JobsClient, ids: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const live = new Set((await client.liveWorkers()).map((worker) => worker.workerId));
    if (ids.every((id) => live.has(id))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`workers ${ids.join(', ')} did not come online within ${timeoutMs} ms`);
}
