/**
 * Scale: 32 simulated workers (each its own worker service and NATS connection) against 1000 jobs.
 * Throughput is compared with the ideal (workers / job time), and each worker's idle time while
 * jobs were still waiting is measured from the outcomes' timings.
 * Options: --workers=32 --jobs=1000 --steps=20 --ms-per-step=50 (a 1 s job, like SD on a fast GPU).
 */
import { SUBJECTS, decodeMessage, jobOutcomeSchema, type JobResult } from '@sdbot/shared';
import { benchJob, withBenchWorld } from '../helpers/bench-world.js';
import { numberArg, percentile, printTable } from '../helpers/bench.js';

export async function run(args: string[]): Promise<void> {
  const workerCount = numberArg(args, 'workers', 32);
  const jobCount = numberArg(args, 'jobs', 1000);
  const steps = numberArg(args, 'steps', 20);
  const msPerStep = numberArg(args, 'ms-per-step', 50);
  await withBenchWorld(
    { workers: workerCount, workerPrefix: 'bench', msPerStep },
    async ({ workers, requester }) => {
      const { client, connection } = requester;
      const results = new Map<string, JobResult>();
      let resolveDone!: () => void;
      const done = new Promise<void>((resolve) => {
        resolveDone = resolve;
      });
      connection.subscribe(SUBJECTS.resultsAll, {
        callback: (_error, message) => {
          const outcome = decodeMessage(jobOutcomeSchema, message.data);
          // Outcomes are de-duplicated by job id, as every consumer of results must.
          if (outcome.type === 'result' && !results.has(outcome.jobId)) results.set(outcome.jobId, outcome);
          if (results.size === jobCount) resolveDone();
        },
      });
      const jobs = Array.from({ length: jobCount }, (_, index) => benchJob(client, `scale ${index}`, steps));
      const started = Date.now();
      for (let index = 0; index < jobs.length; index += 50) {
        await Promise.all(
          jobs.slice(index, index + 50).map((job) => client.submit(job, { requireServedModel: false })),
        );
      }
      const submittedMs = Date.now() - started;
      await done;
      const elapsedMs = Date.now() - started;

      const jobMs = steps * msPerStep;
      const ideal = (workerCount * 1000) / jobMs;
      const throughput = (jobCount * 1000) / elapsedMs;
      const all = [...results.values()];
      const lastStart = Math.max(...all.map((result) => result.completedAt - result.timings.totalMs));
      const idle = workers.map((worker) => {
        const runs = all
          .filter((result) => result.workerId === worker.service.workerId)
          .map((result) => ({ start: result.completedAt - result.timings.totalMs, end: result.completedAt }))
          .sort((a, b) => a.start - b.start);
        // Idle = the part of [first submission, last job start] this worker spent without a job.
        let busy = 0;
        let longestGap = 0;
        let previousEnd = started;
        for (const { start, end } of runs) {
          if (start <= lastStart) longestGap = Math.max(longestGap, start - previousEnd);
          busy += Math.max(0, Math.min(end, lastStart) - Math.max(start, started));
          previousEnd = end;
        }
        return { jobs: runs.length, idleMs: Math.max(0, lastStart - started - busy), longestGap };
      });
      const waits = all.map((result) => result.timings.queuedMs).sort((a, b) => a - b);
      const mean = (pick: (result: JobResult) => number) =>
        (all.reduce((sum, result) => sum + pick(result), 0) / all.length).toFixed(1);
      const perWorker = idle.map((entry) => entry.jobs).sort((a, b) => a - b);
      printTable([
        ['workers x slots', `${workerCount} x 1`],
        ['jobs', String(jobCount)],
        ['job time (simulated)', `${steps} steps x ${msPerStep} ms = ${jobMs} ms`],
        ['submitting took', `${submittedMs} ms`],
        ['elapsed (first submit to last result)', `${elapsedMs} ms`],
        ['throughput', `${throughput.toFixed(2)} jobs/s`],
        ['ideal (workers / job time)', `${ideal.toFixed(2)} jobs/s`],
        ['efficiency', `${((100 * throughput) / ideal).toFixed(1)} %`],
        [
          'jobs per worker (min / median / max)',
          `${perWorker[0]} / ${percentile(perWorker, 0.5)} / ${perWorker.at(-1)}`,
        ],
        [
          'idle while jobs waited, per worker (max)',
          `${Math.max(...idle.map((entry) => entry.idleMs)).toFixed(0)} ms`,
        ],
        [
          'idle while jobs waited, all workers',
          `${idle.reduce((sum, entry) => sum + entry.idleMs, 0).toFixed(0)} ms`,
        ],
        [
          'longest gap between two jobs of a worker',
          `${Math.max(...idle.map((entry) => entry.longestGap)).toFixed(0)} ms`,
        ],
        [
          'worker time per job: total (steps / encode / upload)',
          `${mean((r) => r.timings.totalMs)} (${mean((r) => r.timings.stages.unet ?? 0)} / ${mean((r) => r.timings.stages.encode ?? 0)} / ${mean((r) => r.timings.stages.upload ?? 0)}) ms`,
        ],
        [
          'queue wait p50 / p99',
          `${percentile(waits, 0.5).toFixed(0)} / ${percentile(waits, 0.99).toFixed(0)} ms`,
        ],
      ]);
    },
  );
}
