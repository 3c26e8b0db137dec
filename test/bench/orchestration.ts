/**
 * What the NATS path adds to a job: a simulated worker that takes no time (one 0 ms step), so the
 * submit-to-result latency is all orchestration (submit with the model check, job state, pull,
 * state updates, image upload, outcome, lookup). Sequential jobs give p50/p99 latency; a burst of
 * concurrent jobs gives jobs per second.
 * Options: --jobs=200 --burst=500 --workers=4.
 */
import type { JobOutcome } from '@sdbot/shared';
import { benchJob, withBenchWorld } from '../helpers/bench-world.js';
import { numberArg, percentile, printTable } from '../helpers/bench.js';

export async function run(args: string[]): Promise<void> {
  const sequentialJobs = numberArg(args, 'jobs', 200);
  const burstJobs = numberArg(args, 'burst', 500);
  const workerCount = numberArg(args, 'workers', 4);
  await withBenchWorld(
    { workers: workerCount, workerPrefix: 'orch', msPerStep: 0 },
    async ({ requester }) => {
      const { client } = requester;
      const oneJob = async (index: number): Promise<{ ms: number; outcome: JobOutcome }> => {
        const job = benchJob(client, `orchestration ${index}`, 1);
        const started = performance.now();
        const waiting = client.awaitOutcome(job.id, { timeoutMs: 60_000 });
        await client.submit(job);
        const outcome = await waiting;
        return { ms: performance.now() - started, outcome };
      };
      for (let warmup = 0; warmup < 10; warmup += 1) await oneJob(-warmup);
      const latencies: number[] = [];
      for (let index = 0; index < sequentialJobs; index += 1) latencies.push((await oneJob(index)).ms);
      latencies.sort((a, b) => a - b);

      const burstStart = performance.now();
      const burst = await Promise.all(
        Array.from({ length: burstJobs }, (_, index) => oneJob(sequentialJobs + index)),
      );
      const burstMs = performance.now() - burstStart;
      const failures = burst.filter((entry) => entry.outcome.type !== 'result').length;
      const mean = latencies.reduce((sum, value) => sum + value, 0) / latencies.length;
      printTable([
        ['worker', `simulated, 1 step of 0 ms, ${workerCount} workers x 1 slot`],
        ['sequential jobs', String(sequentialJobs)],
        ['added latency p50', `${percentile(latencies, 0.5).toFixed(2)} ms`],
        ['added latency p99', `${percentile(latencies, 0.99).toFixed(2)} ms`],
        ['added latency mean / max', `${mean.toFixed(2)} / ${(latencies.at(-1) ?? 0).toFixed(2)} ms`],
        ['burst of concurrent jobs', `${burstJobs} (${failures} failed)`],
        ['burst throughput', `${((burstJobs * 1000) / burstMs).toFixed(1)} jobs/s`],
      ]);
    },
  );
}
