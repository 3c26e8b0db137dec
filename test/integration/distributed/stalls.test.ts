/**
 * No stuck slot and no hang: a job that cannot advance (an unreadable source, a generator that
 * never returns) gives its slot back, and SIGTERM ends a worker whose NATS server is gone.
 */
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectStatus } from '@sdbot/shared';
import {
  SimulatedGenerator,
  type GenerationHooks,
  type GenerationOutput,
  type GenerationRequest,
} from '@sdbot/worker';
import { testJob, type TestJobRequest } from '../../helpers/jobs.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { spawnWorker, waitForWorkers, type WorkerProcess } from '../../helpers/worker-process.js';
import {
  cliRequester,
  counterValue,
  openTestClient,
  startTestWorker,
  type TestClient,
  type TestWorker,
} from '../../helpers/workers.js';

const available = natsServerAvailable();

/** Never returns from a job whose prompt is "hang" and ignores its abort signal; runs the rest. */
class HangingGenerator extends SimulatedGenerator {
  hung = 0;
  constructor() {
    super(['sim'], 1);
  }
  override generate(request: GenerationRequest, hooks: GenerationHooks): Promise<GenerationOutput> {
    if (request.job.prompt !== 'hang') return super.generate(request, hooks);
    this.hung += 1;
    return new Promise<GenerationOutput>(() => undefined);
  }
}

function simJob(client: TestClient['client'], prompt: string, extra: Partial<TestJobRequest> = {}) {
  return testJob(client, {
    prompt,
    model: 'sim',
    requester: cliRequester,
    steps: 2,
    width: 64,
    height: 64,
    ...extra,
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!available)('distributed generation: stalls', () => {
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

  it('a source whose chunks are gone fails the job at once with IMAGE_INVALID, and the slot is free', async () => {
    workers = [await startTestWorker(server.url)];
    requester = await openTestClient(server.url);
    const { client, connection } = requester;
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const source = await client.uploadSource('lost-source', png);
    const store = await new Objm(jetstream(connection)).open('sdbot-images');
    const info = await store.info(source.name);
    const jsm = await jetstreamManager(connection);
    await jsm.streams.purge('OBJ_sdbot-images', { filter: `$O.sdbot-images.C.${info!.nuid}` });

    const job = simJob(client, 'from a lost source', { id: 'lost-source', source, strength: 0.5 });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 10_000 });
    await client.submit(job);
    expect(await outcome).toMatchObject({ type: 'failure', code: 'IMAGE_INVALID' });
    const status = await collectStatus(jsm, client.workers);
    expect(status.deadLetters.recent[0]).toMatchObject({
      jobId: job.id,
      code: 'IMAGE_INVALID',
      deliveries: 1,
    });

    const next = simJob(client, 'next');
    const result = client.awaitOutcome(next.id, { timeoutMs: 10_000 });
    await client.submit(next);
    expect((await result).type).toBe('result');
  });

  it('a source that lost some of its chunks fails with IMAGE_INVALID, not retried', async () => {
    workers = [await startTestWorker(server.url)];
    requester = await openTestClient(server.url);
    const { client, connection } = requester;
    // Noise does not compress: a PNG of several 128 KiB chunks.
    const png = await sharp(randomBytes(300 * 300 * 3), { raw: { width: 300, height: 300, channels: 3 } })
      .png()
      .toBuffer();
    const source = await client.uploadSource('torn-source', png);
    const info = await (await new Objm(jetstream(connection)).open('sdbot-images')).info(source.name);
    expect(info!.chunks).toBeGreaterThan(1);
    const jsm = await jetstreamManager(connection);
    await jsm.streams.purge('OBJ_sdbot-images', { filter: `$O.sdbot-images.C.${info!.nuid}`, keep: 1 });

    const job = simJob(client, 'from a torn source', { id: 'torn-source', source, strength: 0.5 });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 10_000 });
    await client.submit(job);
    expect(await outcome).toMatchObject({ type: 'failure', code: 'IMAGE_INVALID' });
    const status = await collectStatus(jsm, client.workers);
    expect(status.deadLetters.recent[0]).toMatchObject({
      jobId: job.id,
      code: 'IMAGE_INVALID',
      deliveries: 1,
    });
  });

  it('cancelling a job whose generator never returns frees the slot', async () => {
    const generator = new HangingGenerator();
    workers = [await startTestWorker(server.url, { generator })];
    const events: unknown[] = [];
    workers[0]!.service.events.on('job:started', (event) => events.push(['started', event]));
    workers[0]!.service.events.on('job:ended', (event) => events.push(['ended', event]));
    requester = await openTestClient(server.url);
    const { client } = requester;
    const stuck = simJob(client, 'hang');
    const cancelled = client.awaitOutcome(stuck.id, { timeoutMs: 10_000 });
    await client.submit(stuck);
    await until(() => generator.hung === 1, 'the job to start');
    await client.cancel(stuck.id, 'tester');
    expect(await cancelled).toMatchObject({
      type: 'failure',
      code: 'CANCELLED',
      message: 'cancelled by tester',
    });

    const next = simJob(client, 'next');
    const result = client.awaitOutcome(next.id, { timeoutMs: 10_000 });
    await client.submit(next);
    expect((await result).type).toBe('result');
    // Typed job events tell how each delivery went (the last one right after its outcome is out).
    await until(() => events.length === 4, 'the last job event');
    expect(events).toEqual([
      ['started', { jobId: stuck.id, model: 'sim', deliveries: 1 }],
      ['ended', { jobId: stuck.id, model: 'sim', outcome: 'cancelled', code: 'CANCELLED' }],
      ['started', { jobId: next.id, model: 'sim', deliveries: 1 }],
      ['ended', { jobId: next.id, model: 'sim', outcome: 'completed' }],
    ]);
  });

  it('a job that does not advance is not kept alive: it is redelivered to another worker after the ack wait', async () => {
    // A short grace: the stalled worker still holds the hung job when the test stops it.
    const env = { SDBOT_ACK_WAIT: '1s', SDBOT_SHUTDOWN_GRACE: '500ms' };
    const generator = new HangingGenerator();
    workers = [await startTestWorker(server.url, { generator, env, workerId: 'stalled' })];
    requester = await openTestClient(server.url, env);
    const { client } = requester;
    // Hangs on its first delivery only: the redelivered copy runs normally.
    const job = simJob(client, 'hang');
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 15_000 });
    await client.submit(job);
    await until(() => generator.hung === 1, 'the job to start');
    workers.push(await startTestWorker(server.url, { env, workerId: 'healthy' }));
    const taken = await outcome;
    expect(taken).toMatchObject({ type: 'result', workerId: 'healthy' });
  });

  it('a job that advances slowly is kept alive past the ack wait and runs once', async () => {
    const env = { SDBOT_ACK_WAIT: '1s' };
    // Three seconds of steps, three ack waits: only working() on each step keeps the job here.
    workers = [await startTestWorker(server.url, { env, workerId: 'slow', msPerStep: 300 })];
    requester = await openTestClient(server.url, env);
    const { client } = requester;
    const job = simJob(client, 'slow', { steps: 10 });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 15_000 });
    await client.submit(job);
    await until(() => workers[0]!.service.freeSlots === 0, 'the job to start');
    workers.push(await startTestWorker(server.url, { env, workerId: 'idle' }));
    expect(await outcome).toMatchObject({ type: 'result', workerId: 'slow' });
    expect(await counterValue(workers[0]!.metrics, 'sdbot_worker_redeliveries_total')).toBe(0);
    expect(await counterValue(workers[1]!.metrics, 'sdbot_worker_jobs_total')).toBe(0);
  });

  it('a job running past SDBOT_JOB_TIMEOUT fails with TIMEOUT, once, and the slot is free', async () => {
    const env = { SDBOT_JOB_TIMEOUT: '5s' };
    const generator = new HangingGenerator();
    workers = [await startTestWorker(server.url, { generator, env })];
    requester = await openTestClient(server.url, env);
    const { client } = requester;
    const job = simJob(client, 'hang');
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 15_000 });
    await client.submit(job);
    expect(await outcome).toMatchObject({
      type: 'failure',
      code: 'TIMEOUT',
      message: 'job ran longer than SDBOT_JOB_TIMEOUT (5 s)',
    });
    expect(generator.hung).toBe(1);
    expect((await client.state(job.id))?.status).toMatchObject({ state: 'failed', code: 'TIMEOUT' });

    const next = simJob(client, 'next');
    const result = client.awaitOutcome(next.id, { timeoutMs: 10_000 });
    await client.submit(next);
    expect((await result).type).toBe('result');
  });

  it('SIGTERM ends an idle worker within seconds when its NATS server is gone, whatever the grace', async () => {
    const env = { SDBOT_SHUTDOWN_GRACE: '20s' };
    requester = await openTestClient(server.url, env);
    const idle = spawnWorker(server.url, { id: 'idle', msPerStep: 50, env });
    processes = [idle];
    await waitForWorkers(requester.client, ['idle']);
    await requester.close();
    requester = undefined;
    await server.kill();
    // Let the worker notice: its pulls now fail or wait on a server that is gone.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const signalled = Date.now();
    const exited = idle.kill('SIGTERM');
    const inTime = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => {
        setTimeout(() => {
          resolve(false);
        }, 5000);
      }),
    ]);
    expect(inTime, `still running ${Date.now() - signalled} ms after SIGTERM:\n${idle.log()}`).toBe(true);
  });

  it('SIGTERM ends a worker within SDBOT_SHUTDOWN_GRACE when its NATS server is gone', async () => {
    const env = { SDBOT_SHUTDOWN_GRACE: '2s' };
    requester = await openTestClient(server.url, env);
    const { client } = requester;
    const orphan = spawnWorker(server.url, { id: 'orphan', msPerStep: 50, env });
    processes = [orphan];
    await waitForWorkers(client, ['orphan']);
    const job = simJob(client, 'long', { steps: 150 });
    let running = false;
    const watch = client.watchProgress(job.id, () => {
      running = true;
    });
    await client.submit(job);
    await until(() => running, 'the job to run');
    watch.stop();
    await requester.close();
    requester = undefined;
    await server.kill();

    const signalled = Date.now();
    const exited = orphan.kill('SIGTERM');
    const inTime = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => {
        setTimeout(() => {
          resolve(false);
        }, 2000 + 3000);
      }),
    ]);
    expect(inTime, `still running ${Date.now() - signalled} ms after SIGTERM:\n${orphan.log()}`).toBe(true);
    expect(orphan.child.signalCode).toBeNull();
  });
});
