/**
 * Simulated workers in a child process (see worker-pool-process.ts), for benchmarks that measure
 * what the requester's side costs without the workers' CPU in the same process.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TrafficCounts } from './nats-traffic.js';

export interface WorkerPool {
  /** What the pool's workers sent to NATS since the last call. */
  traffic(): Promise<TrafficCounts>;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL('./worker-pool-process.ts', import.meta.url));

export async function spawnWorkerPool(
  url: string,
  {
    count,
    msPerStep,
    prefix,
    env = {},
    timeoutMs = 120_000,
  }: { count: number; msPerStep: number; prefix: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<WorkerPool> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, url, String(count), String(msPerStep), prefix, JSON.stringify(env)],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'silent' } },
  );
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const nextLine = (what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`worker pool: no answer to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = () => {
        reject(new Error(`worker pool exited (${String(child.exitCode)}) before ${what}`));
      };
      child.once('exit', onExit);
      waiting.push((line) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(line);
      });
    });
  const ready = await nextLine('starting');
  if (ready !== 'ready') throw new Error(`worker pool: unexpected output ${ready}`);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  return {
    traffic: async () => {
      const answer = nextLine('traffic');
      child.stdin.write('traffic\n');
      return JSON.parse(await answer) as TrafficCounts;
    },
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
