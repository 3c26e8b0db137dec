/**
 * What the NATS path adds to a job: simulated workers that take no time (one 0 ms step), so the
 * submit-to-result latency is all orchestration (submit with the model check, job state, dispatch
 * from the backlog, pull, state updates, image upload, outcome). Sequential jobs give p50/p99
 * latency; a burst of concurrent jobs gives jobs per second. As in production, each worker runs in
 * a process of its own (`--same-process` puts them all beside the requester) and NATS as
 * provisioning sets it up (file storage, one server: R1; `--r3`: a cluster of three with every
 * stream replicated three times, as deploy/ runs it). What every process sends to NATS is counted
 * and printed per job, with the CPU time of the requester and of the workers.
 * Processes are measured warm, after --warmup sequential jobs (a bot and its workers run for days);
 * the first jobs after the start are shown apart.
 * Options: --jobs=200 --burst=500 --warmup=2000 --workers=4 --same-process --r3.
 */
import type { JobOutcome } from '@sdbot/shared';
import { startNatsCluster, startNatsServer } from '../helpers/nats-server.js';
import { testJob } from '../helpers/jobs.js';
import { cliRequester, openTestClient, startTestWorker } from '../helpers/workers.js';
import { numberArg, percentile, printTable } from '../helpers/bench.js';
import { machineCpu, processCpuMs } from '../helpers/machine-cpu.js';
import { NatsTraffic, TRAFFIC_KINDS, addTraffic, type TrafficCounts } from '../helpers/nats-traffic.js';
import { spawnWorkerPools, type WorkerPool } from '../helpers/worker-pool.js';

/** Warm-up jobs whose latency is shown as what a process just started adds. */
const COLD_JOBS = 200;

interface Usage {
  counts: TrafficCounts;
  requesterCpuMs: number;
  workerCpuMs: number;
  /** Undefined where /proc cannot be read. */
  serverCpuMs: number | undefined;
}

function perJob(usage: Usage, jobs: number, which: string, sameProcess: boolean): [string, string][] {
  return [
    [
      `  CPU, requester and dispatcher (${which})`,
      `${(usage.requesterCpuMs / jobs).toFixed(2)} ms${sameProcess ? ' (with the workers)' : ''}`,
    ],
    ...(sameProcess
      ? []
      : [[`  CPU, workers (${which})`, `${(usage.workerCpuMs / jobs).toFixed(2)} ms`] as [string, string]]),
    [
      `  CPU, NATS (${which})`,
      usage.serverCpuMs === undefined ? 'not measured' : `${(usage.serverCpuMs / jobs).toFixed(2)} ms`,
    ],
    ...TRAFFIC_KINDS.map((kind): [string, string] => [
      `  ${kind} (${which})`,
      (usage.counts[kind] / jobs).toFixed(1),
    ]),
  ];
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
    // CPU is counted with the requester's: they share the process.
    usage: () => Promise.resolve({ counts: traffic.take(), cpuMs: 0 }),
    stop: async () => {
      await Promise.all(workers.map((worker) => worker.stop()));
    },
  };
}

export async function run(args: string[]): Promise<void> {
  const sequentialJobs = numberArg(args, 'jobs', 200);
  const burstJobs = numberArg(args, 'burst', 500);
  const warmupJobs = numberArg(args, 'warmup', 2000);
  const workerCount = numberArg(args, 'workers', 4);
  const sameProcess = args.includes('--same-process');
  const replicated = args.includes('--r3');
  const env = { SDBOT_PREVIEW_EVERY: '0', SDBOT_JS_REPLICAS: replicated ? '3' : '1' };
  const server = replicated
    ? await startNatsCluster(3).then((cluster) => ({
        url: cluster.urls.join(','),
        pids: cluster.servers.map((node) => node.process?.pid ?? 0),
        cleanup: () => cluster.cleanup(),
      }))
    : await startNatsServer().then((single) => ({
        url: single.url,
        pids: [single.process?.pid ?? 0],
        cleanup: () => single.cleanup(),
      }));
  const pool = sameProcess
    ? await inProcessPool(server.url, workerCount, env)
    : await spawnWorkerPools(server.url, {
        count: workerCount,
        perProcess: 1,
        msPerStep: 0,
        prefix: 'orch',
        env,
      });
  const requester = await openTestClient(server.url, env);
  const { client } = requester;
  const traffic = new NatsTraffic();
  traffic.watch([requester.connection]);
  let cpuSince = process.cpuUsage();
  let serverCpuSince = processCpuMs(server.pids);
  /** NATS traffic and CPU time (requester, workers and NATS servers) since the last call. */
  const takeUsage = async (): Promise<Usage> => {
    const workers = await pool.usage();
    const cpu = process.cpuUsage(cpuSince);
    cpuSince = process.cpuUsage();
    const serverCpu = processCpuMs(server.pids);
    const serverCpuMs =
      serverCpu === undefined || serverCpuSince === undefined ? undefined : serverCpu - serverCpuSince;
    serverCpuSince = serverCpu;
    return {
      counts: addTraffic(traffic.take(), workers.counts),
      requesterCpuMs: (cpu.user + cpu.system) / 1000,
      workerCpuMs: workers.cpuMs,
      serverCpuMs,
    };
  };
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
    const waiting = client.awaitOutcome(job.id, { timeoutMs: 60_000, submitting: true });
    await client.submit(job);
    const outcome = await waiting;
    return { ms: performance.now() - started, outcome };
  };
  try {
    // Bot and workers are long-running processes: what they add is measured once V8 has compiled
    // the job's path, after a warm-up; the first jobs after a start are shown apart.
    const cold: number[] = [];
    for (let index = 0; index < warmupJobs; index += 1) {
      const { ms } = await oneJob(-1 - index);
      if (index < COLD_JOBS) cold.push(ms);
    }
    cold.sort((a, b) => a - b);
    await takeUsage();
    const latencies: number[] = [];
    for (let index = 0; index < sequentialJobs; index += 1) latencies.push((await oneJob(index)).ms);
    const sequential = await takeUsage();
    latencies.sort((a, b) => a - b);

    const burstStart = performance.now();
    const cpu = machineCpu();
    const burst = await Promise.all(
      Array.from({ length: burstJobs }, (_, index) => oneJob(sequentialJobs + index)),
    );
    const burstMs = performance.now() - burstStart;
    const burstBusy = cpu.busyPercent();
    const burstUsage = await takeUsage();
    const failures = burst.filter((entry) => entry.outcome.type !== 'result').length;
    const mean = latencies.reduce((sum, value) => sum + value, 0) / latencies.length;
    printTable([
      [
        'worker',
        `simulated, 1 step of 0 ms, ${workerCount} workers x 1 slot, ${sameProcess ? 'in the requester process' : 'each in its own process'}`,
      ],
      [
        'NATS',
        replicated ? 'a cluster of 3, streams R3, file storage' : 'one server, streams R1, file storage',
      ],
      ['warm-up jobs (sequential, not measured)', String(warmupJobs)],
      [
        `added latency p50 / p99, first ${COLD_JOBS} jobs after start`,
        cold.length === 0
          ? 'no warm-up'
          : `${percentile(cold, 0.5).toFixed(2)} / ${percentile(cold, 0.99).toFixed(2)} ms`,
      ],
      ['sequential jobs', String(sequentialJobs)],
      ['added latency p50', `${percentile(latencies, 0.5).toFixed(2)} ms`],
      ['added latency p99', `${percentile(latencies, 0.99).toFixed(2)} ms`],
      ['added latency mean / max', `${mean.toFixed(2)} / ${(latencies.at(-1) ?? 0).toFixed(2)} ms`],
      ['burst of concurrent jobs', `${burstJobs} (${failures} failed)`],
      ['burst throughput', `${((burstJobs * 1000) / burstMs).toFixed(1)} jobs/s`],
      ['CPU of this machine busy (burst)', burstBusy],
      ['per job, requester, dispatcher and workers together:', ''],
      ...perJob(sequential, sequentialJobs, 'sequential', sameProcess),
      ...perJob(burstUsage, burstJobs, 'burst', sameProcess),
    ]);
  } finally {
    await pool.stop();
    await requester.close();
    await server.cleanup();
  }
}
