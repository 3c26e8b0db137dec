/**
 * Simulated workers in a child process (see worker-pool-process.ts), for benchmarks that measure
 * what the requester's side costs without the workers' CPU in the same process.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { addTraffic, type TrafficCounts } from './nats-traffic.js';

/** What a pool's workers sent to NATS, and the CPU time they used, since the last ask. */
export interface PoolUsage {
  counts: TrafficCounts;
  cpuMs: number;
}

export interface WorkerPool {
  usage(): Promise<PoolUsage>;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL('./worker-pool-process.ts', import.meta.url));

async function spawnWorkerPool(
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
    usage: async () => {
      const answer = nextLine('traffic');
      child.stdin.write('traffic\n');
      return JSON.parse(await answer) as PoolUsage;
    },
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Several pools seen as one: their workers' ids, usage summed over the processes. */
export interface WorkerPools extends WorkerPool {
  workerIds: string[];
  processes: number;
}

/**
 * `count` simulated workers in processes of at most `perProcess` (1: each worker a process of its
 * own, as machines run them), named `<prefix><process>-<index>`.
 */
export async function spawnWorkerPools(
  url: string,
  {
    count,
    perProcess,
    msPerStep,
    prefix,
    env = {},
  }: { count: number; perProcess: number; msPerStep: number; prefix: string; env?: NodeJS.ProcessEnv },
): Promise<WorkerPools> {
  const sizes = Array.from({ length: Math.ceil(count / perProcess) }, (_, index) =>
    Math.min(perProcess, count - index * perProcess),
  );
  const pools = await Promise.all(
    sizes.map((size, index) =>
      spawnWorkerPool(url, { count: size, msPerStep, prefix: `${prefix}${index}`, env }),
    ),
  );
  return {
    workerIds: sizes.flatMap((size, pool) =>
      Array.from({ length: size }, (_, index) => `${prefix}${pool}-${index}`),
    ),
    processes: pools.length,
    usage: async () => {
      const usages = await Promise.all(pools.map((pool) => pool.usage()));
      return usages.reduce((sum, usage) => ({
        counts: addTraffic(sum.counts, usage.counts),
        cpuMs: sum.cpuMs + usage.cpuMs,
      }));
    },
    stop: async () => {
      await Promise.all(pools.map((pool) => pool.stop()));
    },
  };
}
