import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { expect, it } from 'vitest';
import { SUBJECTS, SdbotError, collectStatus, provisionJetStream, type GenerationJob } from '@sdbot/shared';
import { SimulatedGenerator, type GenerationHooks, type GenerationRequest } from '@sdbot/worker';
import { testJob } from '../../helpers/jobs.js';
import { exampleJob } from '../../helpers/messages.js';
import {
  describeDistributed,
  expectNewestDeadLetter,
  simulatedJob,
  submitAndWait,
} from '../../helpers/distributed-world.js';
import { cliRequester, counterValue, testConfig } from '../../helpers/workers.js';

/** Fails its first `failures` generations with a retryable error, then behaves like the simulator. */
class FlakyGenerator extends SimulatedGenerator {
  calls = 0;
  constructor(private readonly failures: number) {
    super(['sim'], 1);
  }
  override generate(request: GenerationRequest, hooks: GenerationHooks) {
    this.calls += 1;
    if (this.calls <= this.failures) {
      return Promise.reject(new SdbotError('INFERENCE_FAILED', `device lost (call ${this.calls})`));
    }
    return super.generate(request, hooks);
  }
}

/** The simulator, counting the steps it has run. */
class StepCountingGenerator extends SimulatedGenerator {
  stepsRun = 0;
  override generate(request: GenerationRequest, hooks: GenerationHooks) {
    return super.generate(request, {
      ...hooks,
      onStep: (step, total, latents) => {
        this.stepsRun = step;
        hooks.onStep(step, total, latents);
      },
    });
  }
}

describeDistributed('distributed generation: failures', (world) => {
  it('cancellation stops a running job within one step', async () => {
    const generator = new StepCountingGenerator(['sim'], 60);
    await world.startWorker({ generator });
    const { client } = await world.openClient();
    const job = simulatedJob(client, { prompt: 'long', steps: 100 });
    let stepsAtCancel = -1;
    let cancelling: Promise<unknown> | undefined;
    // Cancelled once the job is seen running (its first step is always published).
    const watch = client.watchProgress(job.id, () => {
      cancelling ??= client.cancel(job.id, 'tester').then(() => {
        stepsAtCancel = generator.stepsRun;
      });
    });
    const outcome = await submitAndWait(client, job);
    await cancelling;
    watch.stop();
    expect(outcome).toMatchObject({ type: 'failure', code: 'CANCELLED', message: 'cancelled by tester' });
    expect(stepsAtCancel).toBeGreaterThanOrEqual(1);
    expect(generator.stepsRun).toBeLessThanOrEqual(stepsAtCancel + 1);
    expect((await client.state(job.id))?.status).toMatchObject({ state: 'cancelled', cancelledBy: 'tester' });
  });

  it('a job cancelled while queued is skipped and its requester told', async () => {
    await world.startWorker({ msPerStep: 50 });
    const { client } = await world.openClient();
    const busy = simulatedJob(client, { prompt: 'busy', steps: 100 });
    const queued = simulatedJob(client, { prompt: 'queued', steps: 1 });
    const busyOutcome = client.awaitOutcome(busy.id, { timeoutMs: 20_000 });
    const queuedOutcome = client.awaitOutcome(queued.id, { timeoutMs: 20_000 });
    await client.submit(busy);
    await client.submit(queued);
    expect(await client.queuePosition(queued.id)).toEqual({ ahead: 0, capped: false });
    expect((await client.cancel(queued.id, 'tester'))?.status.state).toBe('cancelled');
    expect(await client.queuePosition(queued.id)).toBeNull();
    await client.cancel(busy.id, 'tester');
    expect(await busyOutcome).toMatchObject({ code: 'CANCELLED' });
    expect(await queuedOutcome).toMatchObject({ type: 'failure', code: 'CANCELLED' });
  });

  it('malformed jobs are dead-lettered with a reason, the worker carries on, requesters get a failure', async () => {
    await world.startWorker();
    const { client, connection } = await world.openClient();
    const js = jetstream(connection);
    const subject = SUBJECTS.job('sim');
    const bad: [string, string | object][] = [
      ['bad-json', '{"id": "bad-json", oops'],
      ['bad-steps', exampleJob({ id: 'bad-steps', model: 'sim', steps: 0 })],
      ['wrong-model', exampleJob({ id: 'wrong-model', model: 'other' })],
      ['too-big', exampleJob({ id: 'too-big', model: 'sim', width: 2048, height: 2048 })],
    ];
    const outcomes = bad.map(([id]) => client.awaitOutcome(id, { timeoutMs: 20_000 }));
    for (const [id, body] of bad) {
      await js.publish(subject, typeof body === 'string' ? body : JSON.stringify(body), { msgID: id });
    }
    const failures = await Promise.all(outcomes);
    expect(
      failures.map((outcome) => (outcome.type === 'failure' ? [outcome.jobId, outcome.code] : [])),
    ).toEqual([
      ['bad-json', 'INVALID_MESSAGE'],
      ['bad-steps', 'INVALID_MESSAGE'],
      ['wrong-model', 'UNKNOWN_MODEL'],
      ['too-big', 'INVALID_MESSAGE'],
    ]);
    expect(failures[1]).toMatchObject({ message: 'steps: must be an integer in 1..150 (got 0)' });
    expect(failures[3]?.type === 'failure' && failures[3].message).toContain(
      'width x height must be at most 1048576 pixels',
    );

    const good = simulatedJob(client, { prompt: 'still alive', steps: 2 });
    expect((await submitAndWait(client, good)).type).toBe('result');

    const status = await collectStatus(await jetstreamManager(connection), client.workers);
    expect(status.deadLetters.count).toBe(4);
    expect(status.deadLetters.recent.map((letter) => [letter.jobId, letter.code, letter.deliveries])).toEqual(
      [
        ['too-big', 'INVALID_MESSAGE', 1],
        ['wrong-model', 'UNKNOWN_MODEL', 1],
        ['bad-steps', 'INVALID_MESSAGE', 1],
        ['bad-json', 'INVALID_MESSAGE', 1],
      ],
    );
    expect(Buffer.from(status.deadLetters.recent[3]!.payload, 'base64').toString()).toBe(
      '{"id": "bad-json", oops',
    );
    expect(status.queues).toEqual([
      { model: 'sim', queued: 0, backlog: 0, lanes: 0, running: 0, oldestQueuedAt: null, workers: 1 },
    ]);
  });

  it('a retryable failure is retried after a delay and then succeeds', async () => {
    const generator = new FlakyGenerator(1);
    const workers = [await world.startWorker({ generator, env: { SDBOT_RETRY_DELAY: '100ms' } })];
    const { client } = await world.openClient();
    const job = simulatedJob(client, { prompt: 'flaky', steps: 2 });
    expect((await submitAndWait(client, job)).type).toBe('result');
    expect(generator.calls).toBe(2);
    await workers[0]!.stop();
    expect(await counterValue(workers[0]!.metrics, 'sdbot_worker_jobs_total', { outcome: 'retried' })).toBe(
      1,
    );
    expect(await counterValue(workers[0]!.metrics, 'sdbot_worker_redeliveries_total')).toBe(1);
  });

  it('a job whose images cannot be stored fails, and its state never claims them', async () => {
    const env = { SDBOT_RETRY_DELAY: '50ms', SDBOT_MAX_DELIVER: '2' };
    await world.startWorker({ msPerStep: 1, env });
    const { client, connection } = await world.openClient(env);
    // The image store refuses every chunk, as one with no room left would.
    const jsm = await jetstreamManager(connection);
    const images = await jsm.streams.info('OBJ_sdbot-images');
    await jsm.streams.update('OBJ_sdbot-images', { ...images.config, max_msg_size: 64 });
    const job = simulatedJob(client, { prompt: 'nowhere to put it', steps: 2 });
    const outcome = await submitAndWait(client, job);
    expect(outcome).toMatchObject({ type: 'failure', jobId: job.id });
    expect(JSON.stringify(outcome)).toContain('storing image');
    expect((await client.state(job.id))?.status.state).toBe('failed');
  });

  it('a job that fails on every delivery is dead-lettered once max deliveries are used up', async () => {
    const env = { SDBOT_RETRY_DELAY: '50ms', SDBOT_MAX_DELIVER: '3' };
    await world.startWorker({ generator: new FlakyGenerator(99), env });
    const requester = await world.openClient(env);
    const { client } = requester;
    const job = simulatedJob(client, { prompt: 'doomed', steps: 2 });
    expect(await submitAndWait(client, job)).toMatchObject({
      type: 'failure',
      code: 'MAX_DELIVERIES_EXCEEDED',
      message: 'failed on all 3 deliveries; last error [INFERENCE_FAILED]: device lost (call 3)',
    });
    await expectNewestDeadLetter(requester, {
      jobId: job.id,
      code: 'MAX_DELIVERIES_EXCEEDED',
      deliveries: 3,
    });
    expect((await client.state(job.id))?.status).toMatchObject({
      state: 'failed',
      code: 'MAX_DELIVERIES_EXCEEDED',
    });
  });

  it('jobs whose workers keep dying are dead-lettered from the max-deliveries advisory', async () => {
    const env = { SDBOT_MAX_DELIVER: '2', SDBOT_ACK_WAIT: '1s' };
    // This worker serves another model; it still handles the advisories of every model.
    await world.startWorker({ models: ['other'], env });
    const requester = await world.openClient(env);
    const { client, connection } = requester;
    const jsm = await jetstreamManager(connection);
    await provisionJetStream(jsm, testConfig(world.url, env), { models: ['sim'] });
    const job: GenerationJob = testJob(client, { prompt: 'cursed', model: 'sim', requester: cliRequester });
    const waiting = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
    await client.submit(job, { requireServedModel: false });

    // A "worker" that takes the job and dies without acknowledging it, twice.
    const consumer = await jetstream(connection).consumers.get('SDBOT_JOBS', 'workers-sim');
    for (let delivery = 1; delivery <= 2; delivery += 1) {
      const message = await consumer.next({ expires: 5000 });
      expect(message?.info.deliveryCount).toBe(delivery);
    }
    // The server announces max deliveries when it next tries to deliver.
    expect(await consumer.next({ expires: 3000 })).toBeNull();

    expect(await waiting).toMatchObject({ type: 'failure', code: 'MAX_DELIVERIES_EXCEEDED' });
    await expectNewestDeadLetter(requester, {
      jobId: job.id,
      code: 'MAX_DELIVERIES_EXCEEDED',
      deliveries: 2,
    });
    expect((await jsm.consumers.info('SDBOT_JOBS', 'workers-sim')).num_ack_pending).toBe(0);
    expect((await jsm.streams.info('SDBOT_JOBS')).state.messages).toBe(0);
  });
});
