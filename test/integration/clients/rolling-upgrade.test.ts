/**
 * Rolling upgrades: a worker from before capabilities (its heartbeat announces none, and it would
 * silently drop job fields it does not know) shares a model's queue with an upgraded worker. A new
 * requester never hands it a job it would get wrong, and an upgraded worker refuses a job needing a
 * capability it lacks with a clear code.
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { KV_BUCKETS, STREAMS, SUBJECTS, jobConsumerName, workerKey, type GenerationJob } from '@sdbot/shared';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDistributed, submitAndWait } from '../../helpers/distributed-world.js';
import { exampleHeartbeat } from '../../helpers/messages.js';
import { cliRequester, type TestClient } from '../../helpers/workers.js';
import { testJob } from '../../helpers/jobs.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker of the previous release: heartbeats without capabilities, pulls the model's jobs. */
class OldWorker {
  readonly received: string[] = [];
  private running = true;
  private loop: Promise<void> | undefined;
  private constructor(private readonly connection: NatsConnection) {}

  static async start(url: string): Promise<OldWorker> {
    const worker = new OldWorker(await connect({ servers: url }));
    await worker.beat();
    worker.loop = worker.pull();
    return worker;
  }

  private async beat(): Promise<void> {
    const kv = await new Kvm(jetstream(this.connection)).open(KV_BUCKETS.workers);
    const heartbeat = exampleHeartbeat({
      workerId: 'old-worker',
      version: '0.0.9',
      models: [{ id: 'sim', name: 'sim', safetyChecker: false }],
      at: Date.now(),
      startedAt: Date.now(),
    });
    // The old shape: no `capabilities` key at all.
    expect('capabilities' in heartbeat).toBe(false);
    await kv.put(workerKey('old-worker'), JSON.stringify(heartbeat));
  }

  private async pull(): Promise<void> {
    const consumer = await jetstream(this.connection).consumers.get(STREAMS.jobs, jobConsumerName('sim'));
    while (this.running) {
      const message = await consumer.next({ expires: 1000 }).catch(async () => {
        await sleep(100);
        return null;
      });
      if (message === null) continue;
      const job = JSON.parse(new TextDecoder().decode(message.data)) as { id: string };
      this.received.push(job.id);
      // Hand it back at once: the upgraded worker runs whatever this one is given.
      message.nak();
    }
  }

  async leave(): Promise<void> {
    this.running = false;
    await this.loop;
    const kv = await new Kvm(jetstream(this.connection)).open(KV_BUCKETS.workers);
    await kv.delete(workerKey('old-worker'));
    await this.connection.close();
  }
}

describeDistributed(
  'rolling upgrades',
  (world) => {
    let requester: TestClient;
    let old: OldWorker | undefined;

    beforeAll(async () => {
      await world.startWorker({ workerId: 'new-worker', msPerStep: 5 });
      requester = await world.openClient();
    });

    afterAll(async () => {
      await old?.leave().catch(() => undefined);
    });

    const variationJob = (): GenerationJob => {
      const job = testJob(requester.client, {
        prompt: 'varied',
        model: 'sim',
        requester: cliRequester,
        steps: 2,
      });
      return { ...job, kind: 'variation', variation: { seed: 7, strength: 0.5 } };
    };

    it('the new worker announces its capabilities', async () => {
      const workers = await requester.client.liveWorkers();
      expect(workers.find((w) => w.workerId === 'new-worker')?.capabilities).toContain('seed-variation');
    });

    it('refuses a job an old worker of the model would get wrong, and runs the others on both', async () => {
      const { client } = requester;
      old = await OldWorker.start(world.url);
      const refused = await client.submit(variationJob()).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 'UNSUPPORTED_CAPABILITY' });
      expect(String(refused)).toContain('old-worker (version 0.0.9) lacks seed-variation');

      // An old worker would read A1111 emphasis as plain words.
      const weighted = {
        ...testJob(client, { prompt: '(a lighthouse:1.3)', model: 'sim', requester: cliRequester, steps: 2 }),
        syntax: 'a1111' as const,
      };
      await expect(client.submit(weighted)).rejects.toThrow('lacks prompt-syntax:a1111');

      // A job of the base protocol runs although an old worker shares the queue.
      const plain = testJob(client, { prompt: 'plain', model: 'sim', requester: cliRequester, steps: 2 });
      expect((await submitAndWait(client, plain)).type).toBe('result');

      await old.leave();
      old = undefined;
      // The rollout is done: the same job is accepted and runs.
      const varied = variationJob();
      expect(await submitAndWait(client, varied)).toMatchObject({ type: 'result', jobId: varied.id });
    });

    it('an upgraded worker refuses a job needing a capability it lacks, with a clear code', async () => {
      const { client, connection } = requester;
      const job = {
        ...testJob(client, { prompt: 'from a newer bot', model: 'sim', requester: cliRequester }),
        requires: ['prompt-syntax-v9'],
      };
      const outcome = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
      // Straight into the work queue, as a newer requester's dispatcher would.
      await jetstream(connection).publish(SUBJECTS.job('sim'), JSON.stringify(job), { msgID: job.id });
      expect(await outcome).toMatchObject({ type: 'failure', code: 'UNSUPPORTED_CAPABILITY' });
      expect(JSON.stringify(await outcome)).toContain('prompt-syntax-v9');
    });
  },
  { scope: 'file' },
);
