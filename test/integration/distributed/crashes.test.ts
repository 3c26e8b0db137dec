import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SUBJECTS,
  decodeMessage,
  jobOutcomeSchema,
  type GenerationJob,
  type JobOutcome,
} from '@sdbot/shared';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { testJob } from '../../helpers/jobs.js';
import { spawnWorker, waitForWorkers, type WorkerProcess } from '../../helpers/worker-process.js';
import {
  cliRequester,
  openTestClient,
  startTestWorker,
  type TestClient,
  type TestWorker,
} from '../../helpers/workers.js';

const available = natsServerAvailable();

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!available)('distributed generation: crashes', () => {
  let server: NatsTestServer;
  let workers: TestWorker[] = [];
  let processes: WorkerProcess[] = [];
  let requester: TestClient | undefined;

  beforeEach(async () => {
    server = await startNatsServer();
  });

  afterEach(async () => {
    await Promise.all(processes.map((worker) => worker.kill('SIGKILL')));
    processes = [];
    await Promise.all(workers.map((worker) => worker.stop()));
    workers = [];
    await requester?.close();
    requester = undefined;
    await server.cleanup();
  });

  it('a worker SIGKILLed mid-job: the job is redelivered to the other worker, the client gets one result', async () => {
    const env = { SDBOT_ACK_WAIT: '2s' };
    requester = await openTestClient(server.url, env);
    const { client, connection } = requester;
    const doomed = spawnWorker(server.url, { id: 'doomed', msPerStep: 100, env });
    processes = [doomed];
    await waitForWorkers(client, ['doomed']);

    const published: JobOutcome[] = [];
    connection.subscribe(SUBJECTS.resultsAll, {
      callback: (_error, message) => {
        published.push(decodeMessage(jobOutcomeSchema, message.data));
      },
    });
    const jobs = Array.from({ length: 3 }, (_, index) =>
      testJob(client, {
        prompt: `crash ${index}`,
        model: 'sim',
        requester: cliRequester,
        steps: 30,
        width: 64,
        height: 64,
      }),
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

    workers = [await startTestWorker(server.url, { env, workerId: 'survivor' })];
    await doomed.kill('SIGKILL');

    const results = await Promise.all(outcomes);
    expect(
      results.map((outcome) => [outcome.jobId, outcome.type, outcome.type === 'result' && outcome.workerId]),
    ).toEqual(jobs.map((job) => [job.id, 'result', 'survivor']));
    await connection.flush();
    expect(published.map((outcome) => outcome.jobId).sort()).toEqual(jobs.map((job) => job.id).sort());
    expect((await client.state(first.id))?.status).toMatchObject({
      state: 'completed',
      workerId: 'survivor',
    });
    const jsm = await jetstreamManager(connection);
    await eventually(
      async () => (await jsm.streams.info('SDBOT_JOBS')).state.messages === 0,
      5000,
      'an empty queue',
    );
  });

  it('SIGTERM: the worker hands its running job back at once, leaves the registry and exits 0', async () => {
    // The default 60 s ack wait: a job back within seconds was released, not timed out.
    const env = { SDBOT_SHUTDOWN_GRACE: '300ms' };
    requester = await openTestClient(server.url, env);
    const { client } = requester;
    const leaving = spawnWorker(server.url, { id: 'leaving', msPerStep: 50, env });
    processes = [leaving];
    await waitForWorkers(client, ['leaving']);
    const job = testJob(client, {
      prompt: 'handed over',
      model: 'sim',
      requester: cliRequester,
      steps: 150,
      width: 64,
      height: 64,
    });
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
    workers = [await startTestWorker(server.url, { env, workerId: 'taker', msPerStep: 1 })];

    await leaving.kill('SIGTERM');
    expect(leaving.child.exitCode).toBe(0);
    expect(leaving.log()).toContain('job:released for another worker');
    expect((await client.liveWorkers()).map((worker) => worker.workerId)).toEqual(['taker']);
    expect(await outcome).toMatchObject({ type: 'result', workerId: 'taker' });
  });

  it('NATS SIGKILLed and restarted with jobs queued: none is lost, workers and client reconnect', async () => {
    const env = { SDBOT_ACK_WAIT: '2s' };
    workers = await Promise.all([
      startTestWorker(server.url, { env, msPerStep: 20 }),
      startTestWorker(server.url, { env, msPerStep: 20 }),
    ]);
    requester = await openTestClient(server.url, env);
    const { client, connection } = requester;
    const jobs = Array.from({ length: 8 }, (_, index) =>
      testJob(client, {
        prompt: `outage ${index}`,
        model: 'sim',
        requester: cliRequester,
        steps: 15,
        width: 64,
        height: 64,
      }),
    );
    const outcomes = jobs.map((job) => client.awaitOutcome(job.id, { timeoutMs: 45_000 }));
    for (const job of jobs) await client.submit(job);

    await server.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.start();
    const results = await Promise.all(outcomes);
    expect(results.map((outcome) => [outcome.jobId, outcome.type])).toEqual(
      jobs.map((job) => [job.id, 'result']),
    );
    for (const job of jobs) expect((await client.state(job.id))?.status.state).toBe('completed');
    const jsm = await jetstreamManager(connection);
    // A job whose acknowledgement the crash lost comes back once more and is skipped as a duplicate.
    await eventually(
      async () => (await jsm.streams.info('SDBOT_JOBS')).state.messages === 0,
      15_000,
      'an empty queue',
    );

    // The workers are still pulling after the outage.
    const after = testJob(client, {
      prompt: 'after',
      model: 'sim',
      requester: cliRequester,
      steps: 2,
      width: 64,
      height: 64,
    });
    const waiting = client.awaitOutcome(after.id, { timeoutMs: 20_000 });
    await client.submit(after);
    expect((await waiting).type).toBe('result');
  });
});
