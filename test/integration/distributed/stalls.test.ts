/**
 * No stuck slot and no hang: a job that cannot advance (an unreadable source, a generator that
 * never returns) gives its slot back, and SIGTERM ends a worker whose NATS server is gone.
 */
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectInfo } from '@nats-io/obj';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import type { ObjectRef } from '@sdbot/shared';
import {
  SimulatedGenerator,
  type GenerationHooks,
  type GenerationOutput,
  type GenerationRequest,
} from '@sdbot/worker';
import {
  describeDistributed,
  expectNewestDeadLetter,
  simulatedJob,
  submitAndWait,
} from '../../helpers/distributed-world.js';
import { type TestJobRequest } from '../../helpers/jobs.js';
import { waitForWorkers, type WorkerProcess } from '../../helpers/worker-process.js';
import { counterValue, type TestClient } from '../../helpers/workers.js';

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
  return simulatedJob(client, { prompt, steps: 2, ...extra });
}

/** Purges the chunks of an uploaded source from the object store's stream, all but `keep` of them. */
async function purgeSourceChunks(
  { connection }: TestClient,
  source: ObjectRef,
  keep?: number,
): Promise<ObjectInfo> {
  const info = await (await new Objm(jetstream(connection)).open('sdbot-images')).info(source.name);
  const filter = `$O.sdbot-images.C.${info!.nuid}`;
  await (
    await jetstreamManager(connection)
  ).streams.purge('OBJ_sdbot-images', keep === undefined ? { filter } : { filter, keep });
  return info!;
}

/** Runs a job from a source whose chunks were purged: it fails at once, dead-lettered on its first delivery. */
async function expectSourceRefused(requester: TestClient, job: ReturnType<typeof simJob>): Promise<void> {
  expect(await submitAndWait(requester.client, job, 10_000)).toMatchObject({
    type: 'failure',
    code: 'IMAGE_INVALID',
  });
  await expectNewestDeadLetter(requester, { jobId: job.id, code: 'IMAGE_INVALID', deliveries: 1 });
}

/** A plain job still runs: the worker's slot is free. */
async function expectSlotFree(client: TestClient['client']): Promise<void> {
  expect((await submitAndWait(client, simJob(client, 'next'), 10_000)).type).toBe('result');
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Sends `signal` to the worker process; true when it exits within `ms`. */
function exitsWithin(worker: WorkerProcess, signal: NodeJS.Signals, ms: number): Promise<boolean> {
  return Promise.race([
    worker.kill(signal).then(() => true),
    new Promise<boolean>((resolve) => {
      setTimeout(() => {
        resolve(false);
      }, ms);
    }),
  ]);
}

describeDistributed('distributed generation: stalls', (world) => {
  it('a source whose chunks are gone fails the job at once with IMAGE_INVALID, and the slot is free', async () => {
    await world.startWorker();
    const requester = await world.openClient();
    const { client } = requester;
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const source = await client.uploadSource('lost-source', png);
    await purgeSourceChunks(requester, source);

    await expectSourceRefused(
      requester,
      simJob(client, 'from a lost source', { id: 'lost-source', source, strength: 0.5 }),
    );
    await expectSlotFree(client);
  });

  it('a source that lost some of its chunks fails with IMAGE_INVALID, not retried', async () => {
    await world.startWorker();
    const requester = await world.openClient();
    const { client } = requester;
    // Noise does not compress: a PNG of several 128 KiB chunks.
    const png = await sharp(randomBytes(300 * 300 * 3), { raw: { width: 300, height: 300, channels: 3 } })
      .png()
      .toBuffer();
    const source = await client.uploadSource('torn-source', png);
    const info = await purgeSourceChunks(requester, source, 1);
    expect(info.chunks).toBeGreaterThan(1);

    await expectSourceRefused(
      requester,
      simJob(client, 'from a torn source', { id: 'torn-source', source, strength: 0.5 }),
    );
  });

  it('cancelling a job whose generator never returns frees the slot', async () => {
    const generator = new HangingGenerator();
    const worker = await world.startWorker({ generator });
    const events: unknown[] = [];
    worker.service.events.on('job:started', (event) => events.push(['started', event]));
    worker.service.events.on('job:ended', (event) => events.push(['ended', event]));
    const { client } = await world.openClient();
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
    expect((await submitAndWait(client, next, 10_000)).type).toBe('result');
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
    await world.startWorker({ generator, env, workerId: 'stalled' });
    const { client } = await world.openClient(env);
    // Hangs on its first delivery only: the redelivered copy runs normally.
    const job = simJob(client, 'hang');
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 15_000 });
    await client.submit(job);
    await until(() => generator.hung === 1, 'the job to start');
    await world.startWorker({ env, workerId: 'healthy' });
    const taken = await outcome;
    expect(taken).toMatchObject({ type: 'result', workerId: 'healthy' });
  });

  it('a job that advances slowly is kept alive past the ack wait and runs once', async () => {
    const env = { SDBOT_ACK_WAIT: '1s' };
    // Three seconds of steps, three ack waits: only working() on each step keeps the job here.
    const slow = await world.startWorker({ env, workerId: 'slow', msPerStep: 300 });
    const { client } = await world.openClient(env);
    const job = simJob(client, 'slow', { steps: 10 });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 15_000 });
    await client.submit(job);
    await until(() => slow.service.freeSlots === 0, 'the job to start');
    const idle = await world.startWorker({ env, workerId: 'idle' });
    expect(await outcome).toMatchObject({ type: 'result', workerId: 'slow' });
    expect(await counterValue(slow.metrics, 'sdbot_worker_redeliveries_total')).toBe(0);
    expect(await counterValue(idle.metrics, 'sdbot_worker_jobs_total')).toBe(0);
  });

  it('a job running past SDBOT_JOB_TIMEOUT fails with TIMEOUT, once, and the slot is free', async () => {
    const env = { SDBOT_JOB_TIMEOUT: '5s' };
    const generator = new HangingGenerator();
    await world.startWorker({ generator, env });
    const { client } = await world.openClient(env);
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

    await expectSlotFree(client);
  });

  it('SIGTERM ends an idle worker within seconds when its NATS server is gone, whatever the grace', async () => {
    const env = { SDBOT_SHUTDOWN_GRACE: '20s' };
    const requester = await world.openClient(env);
    const idle = world.spawnWorker({ id: 'idle', msPerStep: 50, env });
    await waitForWorkers(requester.client, ['idle']);
    await requester.close();
    await world.server.kill();
    // Let the worker notice: its pulls now fail or wait on a server that is gone.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const signalled = Date.now();
    const inTime = await exitsWithin(idle, 'SIGTERM', 5000);
    expect(inTime, `still running ${Date.now() - signalled} ms after SIGTERM:\n${idle.log()}`).toBe(true);
  });

  it('SIGTERM ends a worker within SDBOT_SHUTDOWN_GRACE when its NATS server is gone', async () => {
    const env = { SDBOT_SHUTDOWN_GRACE: '2s' };
    const requester = await world.openClient(env);
    const { client } = requester;
    const orphan = world.spawnWorker({ id: 'orphan', msPerStep: 50, env });
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
    await world.server.kill();

    const signalled = Date.now();
    const inTime = await exitsWithin(orphan, 'SIGTERM', 2000 + 3000);
    expect(inTime, `still running ${Date.now() - signalled} ms after SIGTERM:\n${orphan.log()}`).toBe(true);
    expect(orphan.child.signalCode).toBeNull();
  });
});
