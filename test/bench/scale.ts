/**
 * Scale: 32 simulated workers (each its own worker service and NATS connection, up to 64 in a
 * process, apart from the requester's) against 1000 jobs from 100 guilds, so the fair dispatcher takes
 * turns between 100 lanes. Throughput is compared with the ideal (workers / job time), each
 * worker's idle time while jobs were still waiting is measured from the outcomes' timings, and the
 * dispatcher's cost per job is counted (its passes, their time, its NATS round trips).
 * The processes are measured warm, after --warmup jobs per worker (workers and the bot run for
 * days; a process's first jobs run code V8 has not compiled yet), and that warm-up is shown apart.
 * How late the simulated steps end and how busy the machine's busiest half-seconds were show what
 * sharing the cores costs: a step's timer waits while every core is busy.
 * Options: --workers=32 --jobs=1000 --lanes=100 --steps=20 --ms-per-step=50 (a 1 s job, like SD
 * on a fast GPU) --warmup=2.
 */
import { SUBJECTS, decodeMessage, jobOutcomeSchema, type JobResult, type Requester } from '@sdbot/shared';
import { startNatsServer } from '../helpers/nats-server.js';
import { testJob } from '../helpers/jobs.js';
import { openTestClient } from '../helpers/workers.js';
import { numberArg, percentile, printTable } from '../helpers/bench.js';
import { machineCpu, machineCpuPeaks } from '../helpers/machine-cpu.js';
import { NatsTraffic } from '../helpers/nats-traffic.js';
import { spawnWorkerPools } from '../helpers/worker-pool.js';

const WORKERS_PER_PROCESS = 64;

/** A member of one of `lanes` guilds (snowflake-shaped ids). */
function guildRequester(index: number, lanes: number): Requester {
  const guild = String(100_000_000_000_000_000n + BigInt(index % lanes));
  return { source: 'discord', guildId: guild, channelId: guild, userId: `user-${index}` };
}

export async function run(args: string[]): Promise<void> {
  const workerCount = numberArg(args, 'workers', 32);
  const jobCount = numberArg(args, 'jobs', 1000);
  const steps = numberArg(args, 'steps', 20);
  const msPerStep = numberArg(args, 'ms-per-step', 50);
  const laneCount = Math.max(1, numberArg(args, 'lanes', 100));
  const warmupPerWorker = numberArg(args, 'warmup', 2);
  const env = { SDBOT_PREVIEW_EVERY: '0' };
  const server = await startNatsServer();
  // Up to WORKERS_PER_PROCESS workers in a process, as machines would hold them: one process would
  // be busy with hundreds of connections' progress, heartbeats and uploads by itself.
  const pools = await spawnWorkerPools(server.url, {
    count: workerCount,
    perProcess: WORKERS_PER_PROCESS,
    msPerStep,
    prefix: 'bench',
    env,
  });

  const requester = await openTestClient(server.url, env);
  const dispatcherTraffic = new NatsTraffic();
  dispatcherTraffic.watch([requester.connection]);
  try {
    const { client, connection } = requester;
    // Every pass the dispatcher makes, timed from start to end.
    const dispatcher = client.dispatcher;
    const dispatchOnce = dispatcher.dispatchOnce.bind(dispatcher);
    const passes = { count: 0, ms: 0 };
    dispatcher.dispatchOnce = async () => {
      const started = performance.now();
      try {
        return await dispatchOnce();
      } finally {
        passes.count += 1;
        passes.ms += performance.now() - started;
      }
    };
    // Outcomes are de-duplicated by job id, as every consumer of results must, and counted only
    // for the batch of jobs that runs.
    let batch: { ids: Set<string>; results: Map<string, JobResult>; done: () => void } = {
      ids: new Set(),
      results: new Map(),
      done: () => undefined,
    };
    connection.subscribe(SUBJECTS.resultsAll, {
      callback: (_error, message) => {
        const outcome = decodeMessage(jobOutcomeSchema, message.data);
        if (outcome.type !== 'result' || !batch.ids.has(outcome.jobId)) return;
        batch.results.set(outcome.jobId, outcome);
        if (batch.results.size === batch.ids.size) batch.done();
      },
    });
    /** Submits `count` jobs (50 at a time) and waits for all their results. */
    const runJobs = async (count: number, prefix: string) => {
      const jobs = Array.from({ length: count }, (_, index) =>
        testJob(client, {
          prompt: `${prefix} ${index}`,
          model: 'sim',
          requester: guildRequester(index, laneCount),
          steps,
          width: 64,
          height: 64,
        }),
      );
      const results = new Map<string, JobResult>();
      const finished = new Promise<void>((resolve) => {
        batch = { ids: new Set(jobs.map((job) => job.id)), results, done: resolve };
      });
      const started = Date.now();
      for (let index = 0; index < jobs.length; index += 50) {
        await Promise.all(
          jobs.slice(index, index + 50).map((job) => client.submit(job, { requireServedModel: false })),
        );
      }
      const submittedMs = Date.now() - started;
      if (count > 0) await finished;
      return { results, started, submittedMs, elapsedMs: Date.now() - started };
    };

    const warmupJobs = Math.round(warmupPerWorker * workerCount);
    const warmup = await runJobs(warmupJobs, 'warm-up');
    const warmupJobMs = [...warmup.results.values()].map((result) => result.timings.totalMs);
    dispatcherTraffic.take();
    passes.count = 0;
    passes.ms = 0;

    const cpu = machineCpu();
    const peaks = machineCpuPeaks();
    const { results, started, submittedMs, elapsedMs } = await runJobs(jobCount, 'scale');
    const busy = cpu.busyPercent();
    const busiest = peaks.stop();
    const requesterTraffic = dispatcherTraffic.take();

    const jobMs = steps * msPerStep;
    const ideal = (workerCount * 1000) / jobMs;
    const throughput = (jobCount * 1000) / elapsedMs;
    const all = [...results.values()];
    const lastStart = Math.max(...all.map((result) => result.completedAt - result.timings.totalMs));
    const workerIds = pools.workerIds;

    const idle = workerIds.map((workerId) => {
      const runs = all
        .filter((result) => result.workerId === workerId)
        .map((result) => ({
          start: result.completedAt - result.timings.totalMs,
          end: result.completedAt,
          // The simulated steps' time past the job time: how late the last step's timer fired.
          late: (result.timings.stages.unet ?? jobMs) - jobMs,
        }))
        .sort((a, b) => a.start - b.start);
      // Idle = the part of [first submission, last job start] this worker spent without a job.
      let busy = 0;
      let longestGap = 0;
      let previousEnd = started;
      const gaps: number[] = [];
      for (const { start, end } of runs) {
        if (start <= lastStart) longestGap = Math.max(longestGap, start - previousEnd);
        if (previousEnd !== started) gaps.push(start - previousEnd);
        busy += Math.max(0, Math.min(end, lastStart) - Math.max(start, started));
        previousEnd = end;
      }
      const durations = runs.map(({ start, end }) => end - start);
      const lateness = runs.map(({ late }) => late);
      return {
        firstStart: (runs[0]?.start ?? started) - started,
        jobs: runs.length,
        idleMs: Math.max(0, lastStart - started - busy),
        longestGap,
        durations,
        lateness,
        gaps,
      };
    });
    // A worker's first job and the gap after it against the rest: the first jobs of a process's
    // workers start within a fraction of a second of each other, so they also end together.
    const average = (values: readonly number[]) =>
      (values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length)).toFixed(1);
    const firstAndLater = (pick: (entry: (typeof idle)[number]) => number[]) =>
      `${average(idle.map((entry) => pick(entry)[0] ?? 0))} / ${average(idle.flatMap((entry) => pick(entry).slice(1)))} ms`;
    const waits = all.map((result) => result.timings.queuedMs).sort((a, b) => a - b);
    const firstStarts = idle.map((entry) => entry.firstStart).sort((a, b) => a - b);
    const measuredJobMs = all.reduce((sum, result) => sum + result.timings.totalMs, 0) / all.length;
    const mean = (pick: (result: JobResult) => number) =>
      (all.reduce((sum, result) => sum + pick(result), 0) / all.length).toFixed(1);
    const perWorker = idle.map((entry) => entry.jobs).sort((a, b) => a - b);
    printTable([
      ['workers x slots', `${workerCount} x 1 (in ${pools.processes} processes apart from the requester)`],
      ['jobs', `${jobCount} from ${laneCount} guilds (lanes)`],
      [
        'warm-up before the run (not measured): jobs, their mean / longest worker time',
        warmupJobs === 0
          ? 'none: the processes start cold'
          : `${warmupJobs} in ${warmup.elapsedMs} ms, ${(warmupJobMs.reduce((sum, ms) => sum + ms, 0) / warmupJobs).toFixed(1)} / ${Math.max(...warmupJobMs).toFixed(0)} ms`,
      ],
      ['job time (simulated)', `${steps} steps x ${msPerStep} ms = ${jobMs} ms`],
      ['submitting took', `${submittedMs} ms`],
      ['elapsed (first submit to last result)', `${elapsedMs} ms`],
      ['throughput', `${throughput.toFixed(2)} jobs/s`],
      ['ideal (workers / job time)', `${ideal.toFixed(2)} jobs/s`],
      ['efficiency', `${((100 * throughput) / ideal).toFixed(1)} %`],
      [
        // Whole rounds: no pool finishes before its busiest workers' last job ends.
        'efficiency at best (whole rounds of job time)',
        `${((100 * jobCount) / (Math.ceil(jobCount / workerCount) * workerCount)).toFixed(1)} % (the last round runs ${jobCount - (Math.ceil(jobCount / workerCount) - 1) * workerCount} of ${workerCount} workers)`,
      ],
      ['CPU of this machine busy (first submit to last result)', busy],
      ['CPU of this machine, its busiest stretches', busiest],
      [
        // The simulated workers share this machine's cores: when they run slower than job time,
        // this row is what the dispatch path itself loses (workers idle while jobs waited).
        "efficiency against the workers' measured job time",
        `${((100 * throughput * measuredJobMs) / (workerCount * 1000)).toFixed(1)} %`,
      ],
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
        'worker time per job: total (steps / encode / upload and final state)',
        `${mean((r) => r.timings.totalMs)} (${mean((r) => r.timings.stages.unet ?? 0)} / ${mean((r) => r.timings.stages.encode ?? 0)} / ${mean((r) => r.timings.stages.upload ?? 0)}) ms`,
      ],
      [
        "worker time per job: a worker's first / its later jobs (mean)",
        firstAndLater((entry) => entry.durations),
      ],
      [
        "a job's last step late (its steps' time past job time): a worker's first / later jobs (mean)",
        firstAndLater((entry) => entry.lateness),
      ],
      ["gap between two jobs: after a worker's first / later (mean)", firstAndLater((entry) => entry.gaps)],
      [
        "a worker's first job started, after the first submit (median / last)",
        `${percentile(firstStarts, 0.5).toFixed(0)} / ${(firstStarts.at(-1) ?? 0).toFixed(0)} ms`,
      ],
      [
        'dispatcher passes',
        `${passes.count} (${(jobCount / Math.max(1, passes.count)).toFixed(1)} jobs a pass)`,
      ],
      ['dispatcher time per job (pass wall time / jobs)', `${(passes.ms / jobCount).toFixed(2)} ms`],
      [
        'requester round trips per job (submit + dispatch + outcome)',
        (requesterTraffic['round trips'] / jobCount).toFixed(1),
      ],
      [
        'queue wait p50 / p99',
        `${percentile(waits, 0.5).toFixed(0)} / ${percentile(waits, 0.99).toFixed(0)} ms`,
      ],
    ]);
  } finally {
    await pools.stop();
    await requester.close();
    await server.cleanup();
  }
}
