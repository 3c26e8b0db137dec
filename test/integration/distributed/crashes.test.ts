import { jetstreamManager } from '@nats-io/jetstream';
import { expect, it } from 'vitest';
import type { GenerationJob, NatsConnection } from '@sdbot/shared';
import {
  describeDistributed,
  eventually,
  recordOutcomes,
  simulatedJob,
  submitAndWait,
} from '../../helpers/distributed-world.js';
import { waitForWorkers } from '../../helpers/worker-process.js';

/** Whether the work queue holds no job message any more (each acknowledged or skipped). */
async function queueEmpty(connection: NatsConnection): Promise<boolean> {
  return (await (await jetstreamManager(connection)).streams.info('SDBOT_JOBS')).state.messages === 0;
}

describeDistributed('distributed generation: crashes', (world) => {
  it('a worker SIGKILLed mid-job: the job is redelivered to the other worker, the client gets one result', async () => {
    const env = { SDBOT_ACK_WAIT: '2s' };
    const { client, connection } = await world.openClient(env);
    const doomed = world.spawnWorker({ id: 'doomed', msPerStep: 100, env });
    await waitForWorkers(client, ['doomed']);

    const published = recordOutcomes(connection);
    const jobs = Array.from({ length: 3 }, (_, index) =>
      simulatedJob(client, { prompt: `crash ${index}`, steps: 30 }),
    );
    const [first] = jobs as [GenerationJob, ...GenerationJob[]];
    let startedOnDoomed!: () => void;
    const midJob = new Promise<void>((resolve) => {
      startedOnDoomed = resolve;
    });
    const watch = client.watchProgress(first.id, (progress) => {
      if (progress.workerId === 'doomed' && progress.step >= 3) startedOnDoomed();
    });
    const outcomes = jobs.map((job) => client.awaitOutcome(job.id, { timeoutMs: 45_000 }));
    for (const job of jobs) await client.submit(job);
    await midJob;
    watch.stop();

    await world.startWorker({ env, workerId: 'survivor' });
    await doomed.kill('SIGKILL');

    const results = await Promise.all(outcomes);
    expect(
      results.map((outcome) => [outcome.jobId, outcome.type, outcome.type === 'result' && outcome.workerId]),
    ).toEqual(jobs.map((job) => [job.id, 'result', 'survivor']));
    await connection.flush();
    expect(published.outcomes.map((outcome) => outcome.jobId).sort()).toEqual(
      jobs.map((job) => job.id).sort(),
    );
    expect((await client.state(first.id))?.status).toMatchObject({
      state: 'completed',
      workerId: 'survivor',
    });
    await eventually(() => queueEmpty(connection), 5000, 'an empty queue');
  });

  it('SIGTERM: the worker hands its running job back at once, leaves the registry and exits 0', async () => {
    // The default 60 s ack wait: a job back within seconds was released, not timed out.
    const env = { SDBOT_SHUTDOWN_GRACE: '300ms' };
    const { client } = await world.openClient(env);
    const leaving = world.spawnWorker({ id: 'leaving', msPerStep: 50, env });
    await waitForWorkers(client, ['leaving']);
    const job = simulatedJob(client, { prompt: 'handed over', steps: 150 });
    let running!: () => void;
    const started = new Promise<void>((resolve) => {
      running = resolve;
    });
    const watch = client.watchProgress(job.id, (progress) => {
      if (progress.workerId === 'leaving' && progress.step >= 2) running();
    });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 30_000 });
    await client.submit(job);
    await started;
    watch.stop();
    await world.startWorker({ env, workerId: 'taker', msPerStep: 1 });

    await leaving.kill('SIGTERM');
    expect(leaving.child.exitCode).toBe(0);
    expect(leaving.log()).toContain('"msg":"job:released"');
    expect((await client.liveWorkers()).map((worker) => worker.workerId)).toEqual(['taker']);
    expect(await outcome).toMatchObject({ type: 'result', workerId: 'taker' });
  });

  it('NATS SIGKILLed and restarted with jobs queued: none is lost, workers and client reconnect', async () => {
    const env = { SDBOT_ACK_WAIT: '2s' };
    await Promise.all([world.startWorker({ env, msPerStep: 20 }), world.startWorker({ env, msPerStep: 20 })]);
    const { client, connection } = await world.openClient(env);
    const jobs = Array.from({ length: 8 }, (_, index) =>
      simulatedJob(client, { prompt: `outage ${index}`, steps: 15 }),
    );
    const outcomes = jobs.map((job) => client.awaitOutcome(job.id, { timeoutMs: 45_000 }));
    for (const job of jobs) await client.submit(job);

    await world.server.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await world.server.start();
    const results = await Promise.all(outcomes);
    expect(results.map((outcome) => [outcome.jobId, outcome.type])).toEqual(
      jobs.map((job) => [job.id, 'result']),
    );
    for (const job of jobs) expect((await client.state(job.id))?.status.state).toBe('completed');
    // A job whose acknowledgement the crash lost comes back once more and is skipped as a duplicate.
    await eventually(() => queueEmpty(connection), 15_000, 'an empty queue');

    // The workers are still pulling after the outage.
    const after = simulatedJob(client, { prompt: 'after', steps: 2 });
    expect((await submitAndWait(client, after)).type).toBe('result');
  });
});
