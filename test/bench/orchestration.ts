/**
 * What the NATS path adds to a job: simulated workers that take no time (one 0 ms step), so the
 * submit-to-result latency is all orchestration (submit with the model check, job state, dispatch
 * from the backlog, pull, state updates, image upload, outcome). Sequential jobs give p50/p99
 * latency; a burst of concurrent jobs gives jobs per second. As in production, the workers run in
 * a process of their own (`--same-process` puts them beside the requester) and NATS as
 * provisioning sets it up (file storage, one server: R1). What every process sends to NATS is
 * counted and printed per job.
 * Options: --jobs=200 --burst=500 --workers=4 --same-process.
 */
import type { JobOutcome } from '@sdbot/shared';
import { startNatsServer } from '../helpers/nats-server.js';
import { testJob } from '../helpers/jobs.js';
import { cliRequester, openTestClient, startTestWorker } from '../helpers/workers.js';
import { numberArg, percentile, printTable } from '../helpers/bench.js';
import { NatsTraffic, TRAFFIC_KINDS, addTraffic, type TrafficCounts } from '../helpers/nats-traffic.js';
import { spawnWorkerPool, type WorkerPool } from '../helpers/worker-pool.js';

function perJob(counts: TrafficCounts, jobs: number, which: string): [string, string][] {
  return TRAFFIC_KINDS.map((kind) => [`  ${kind} (${which})`, (counts[kind] / jobs).toFixed(1)]);
}

/** The workers in this process, behind the same interface as a pool in a child process. */
async function inProcessPool(url: string, count: number, env: NodeJS.ProcessEnv): Promise<WorkerPool> {
  const workers = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      startTestWorker(url, { workerId: `orch-${index}`, msPerStep: 0, env }),
    ),
  );
  const traffic = new NatsTraffic();
  traffic.watch(workers.map((worker) => worker.connection));
  return {
    traffic: () => Promise.resolve(traffic.take()),
    stop: async () => {
      await Promise.all(workers.map((worker) => worker.stop()));
    },
  };
}

export async function run(args: string[]): Promise<void> {
  const sequentialJobs = numberArg(args, 'jobs', 200);
  const burstJobs = numberArg(args, 'burst', 500);
  const workerCount = numberArg(args, 'workers', 4);
  const sameProcess = args.includes('--same-process');
  const env = { SDBOT_PREVIEW_EVERY: '0' };
  const server = await startNatsServer();
  const pool = sameProcess
    ? await inProcessPool(server.url, workerCount, env)
    : await spawnWorkerPool(server.url, { count: workerCount, msPerStep: 0, prefix: 'orch', env });
  const requester = await openTestClient(server.url, env);
  const { client } = requester;
  const traffic = new NatsTraffic();
  traffic.watch([requester.connection]);
  const takeTraffic = async () => addTraffic(traffic.take(), await pool.traffic());
  const oneJob = async (index: number): Promise<{ ms: number; outcome: JobOutcome }> => {
    const job = testJob(client, {
      prompt: `orchestration ${index}`,
      model: 'sim',
      requester: cliRequester,
      steps: 1,
      width: 64,
      height: 64,
    });
    const started = performance.now();
    const waiting = client.awaitOutcome(job.id, { timeoutMs: 60_000 });
    await client.submit(job);
    const outcome = await waiting;
    return { ms: performance.now() - started, outcome };
  };
  try {
    for (let warmup = 0; warmup < 10; warmup += 1) await oneJob(-warmup);
    await takeTraffic();
    const latencies: number[] = [];
    for (let index = 0; index < sequentialJobs; index += 1) latencies.push((await oneJob(index)).ms);
    const sequentialTraffic = await takeTraffic();
    latencies.sort((a, b) => a - b);

    const burstStart = performance.now();
    const burst = await Promise.all(
      Array.from({ length: burstJobs }, (_, index) => oneJob(sequentialJobs + index)),
    );
    const burstMs = performance.now() - burstStart;
    const burstTraffic = await takeTraffic();
    const failures = burst.filter((entry) => entry.outcome.type !== 'result').length;
    const mean = latencies.reduce((sum, value) => sum + value, 0) / latencies.length;
    printTable([
      [
        'worker',
        `simulated, 1 step of 0 ms, ${workerCount} workers x 1 slot, ${sameProcess ? 'in the requester' : 'in their own'} process`,
      ],
      ['sequential jobs', String(sequentialJobs)],
      ['added latency p50', `${percentile(latencies, 0.5).toFixed(2)} ms`],
      ['added latency p99', `${percentile(latencies, 0.99).toFixed(2)} ms`],
      ['added latency mean / max', `${mean.toFixed(2)} / ${(latencies.at(-1) ?? 0).toFixed(2)} ms`],
      ['burst of concurrent jobs', `${burstJobs} (${failures} failed)`],
      ['burst throughput', `${((burstJobs * 1000) / burstMs).toFixed(1)} jobs/s`],
      ['per job, requester, dispatcher and workers together:', ''],
      ...perJob(sequentialTraffic, sequentialJobs, 'sequential'),
      ...perJob(burstTraffic, burstJobs, 'burst'),
    ]);
  } finally {
    await pool.stop();
    await requester.close();
    await server.cleanup();
  }
}
