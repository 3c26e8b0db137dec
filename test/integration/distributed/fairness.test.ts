/**
 * Fair scheduling between guilds: jobs wait in per-lane backlogs and the dispatchers of every
 * requester process feed the workers round-robin between lanes. Real nats-server, in-process
 * simulated workers.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { expect, it } from 'vitest';
import {
  STREAMS,
  backlogConsumerName,
  collectStatus,
  type GenerationJob,
  type JobOutcome,
  type Requester,
} from '@sdbot/shared';
import {
  describeDistributed,
  eventually,
  recordOutcomes,
  simulatedJob,
} from '../../helpers/distributed-world.js';
import { cliRequester, counterValue, type TestClient } from '../../helpers/workers.js';

function guild(id: string): Requester {
  return { source: 'discord', guildId: id, channelId: id, userId: 'flooder' };
}
const guildA = guild('111111111111111111');
const guildB = guild('222222222222222222');
const directMessage: Requester = { source: 'discord', guildId: null, channelId: null, userId: 'dm-user' };

describeDistributed('fair scheduling between guilds', (world) => {
  const client = () => world.openClient();

  function job(requester: TestClient, who: Requester, prompt: string, steps = 3): GenerationJob {
    return simulatedJob(requester.client, { prompt, requester: who, steps });
  }

  /** Submits in order and returns the outcomes, awaited from before each submit. */
  async function submitAll(
    requester: TestClient,
    jobs: GenerationJob[],
    { requireServedModel = true } = {},
  ): Promise<Promise<JobOutcome>[]> {
    const outcomes: Promise<JobOutcome>[] = [];
    for (const queued of jobs) {
      outcomes.push(requester.client.awaitOutcome(queued.id, { timeoutMs: 30_000 }));
      await requester.client.submit(queued, { requireServedModel });
    }
    return outcomes;
  }

  it("serves a second guild's job while the first guild has 20 queued", async () => {
    await world.startWorker({ msPerStep: 30 });
    const requester = await client();
    const seen = recordOutcomes(requester.connection);
    const flood = Array.from({ length: 20 }, (_, index) => job(requester, guildA, `flood ${index}`));
    const waiting = await submitAll(requester, flood);
    const fair = job(requester, guildB, 'my turn');
    waiting.push(...(await submitAll(requester, [fair])));
    const outcomes = await Promise.all(waiting);

    expect(outcomes.every((outcome) => outcome.type === 'result')).toBe(true);
    const floodAfterFair = seen.order.slice(seen.order.indexOf(fair.id) + 1);
    expect(floodAfterFair.length).toBeGreaterThanOrEqual(15);
    const floodIds = new Set(flood.map((queued) => queued.id));
    expect(floodAfterFair.every((id) => floodIds.has(id))).toBe(true);
  });

  it('queues a job straight for an idle worker when no lane waits, and in its lane otherwise', async () => {
    await world.startWorker({ msPerStep: 40 });
    const requester = await client();
    const first = job(requester, guildA, 'straight in', 10);
    const firstOutcome = requester.client.awaitOutcome(first.id, { timeoutMs: 30_000 });
    const direct = await requester.client.submit(first);
    expect(direct).toMatchObject({ queue: 'work', duplicate: false });
    // Its state was sent before it, so the worker read it; it never had a backlog sequence.
    expect((await requester.client.state(first.id))?.backlogSeq).toBeUndefined();

    await eventually(
      async () => (await requester.client.state(first.id))?.status.state !== 'queued',
      10_000,
      'the first job to start',
    );
    // The worker is busy and one job waits for it: the next ones wait in their lanes.
    const [onDeck, second, third] = [
      job(requester, guildA, 'on deck', 2),
      job(requester, guildA, 'a lane', 2),
      job(requester, guildB, 'b lane', 2),
    ];
    const outcomes = await submitAll(requester, [onDeck, second, third]);
    expect((await requester.client.state(onDeck.id))?.backlogSeq).toBeUndefined();
    for (const waiting of [second, third]) {
      const record = await requester.client.state(waiting.id);
      expect(record?.backlogSeq).toBeDefined();
      expect(record?.jobStreamSeq).toBeUndefined();
    }
    // Submitting the same job again queues nothing new.
    expect(await requester.client.submit(second)).toMatchObject({ duplicate: true });
    const all = await Promise.all([firstOutcome, ...outcomes]);
    expect(all.map((outcome) => outcome.type)).toEqual(Array(4).fill('result'));
  });

  it('takes turns between lanes: a guild, direct messages and the CLI', async () => {
    const requester = await client();
    const seen = recordOutcomes(requester.connection);
    const lanes = { guild: guildA, dm: directMessage, cli: cliRequester };
    const jobs = (Object.entries(lanes) as [keyof typeof lanes, Requester][]).flatMap(([lane, who]) =>
      Array.from({ length: 4 }, (_, index) => job(requester, who, `${lane} ${index}`, 2)),
    );
    // No worker yet: the first job goes to the work queue, the rest wait in their lanes.
    const waiting = await submitAll(requester, jobs, { requireServedModel: false });
    await world.startWorker({ msPerStep: 5 });
    await Promise.all(waiting);

    const laneOf = new Map(jobs.map((queued) => [queued.id, queued.prompt.split(' ')[0]]));
    // The rotation is in lane-name order (guild ids sort before "cli" and "dm") from the lane
    // after the first job's.
    expect(seen.order.map((id) => laneOf.get(id))).toEqual([
      'guild',
      ...Array.from({ length: 3 }, () => ['cli', 'dm', 'guild']).flat(),
      'cli',
      'dm',
    ]);
  });

  it('estimates the queue position of jobs waiting in the backlog', async () => {
    const requester = await client();
    const seen = recordOutcomes(requester.connection);
    const jobs = [
      job(requester, guildA, 'a1'),
      job(requester, guildA, 'a2'),
      job(requester, guildA, 'a3'),
      job(requester, guildB, 'b1'),
      job(requester, guildB, 'b2'),
    ];
    const waiting = await submitAll(requester, jobs, { requireServedModel: false });
    const positions = await Promise.all(jobs.map((queued) => requester.client.queuePosition(queued.id)));
    // a1 is in the work queue; the others run b1, a2, b2, a3 (guild A was served last).
    expect(positions.map((position) => position?.ahead)).toEqual([0, 2, 4, 1, 3]);
    expect(positions.every((position) => position?.capped === false)).toBe(true);

    await world.startWorker({ msPerStep: 5 });
    await Promise.all(waiting);
    const prompts = new Map(jobs.map((queued) => [queued.id, queued.prompt]));
    expect(seen.order.map((id) => prompts.get(id))).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
    expect(await requester.client.queuePosition(jobs[1]!.id)).toBeNull();
  });

  it('two dispatching replicas run each of 50 jobs exactly once', async () => {
    const env = { SDBOT_WORKER_SLOTS: '2' };
    const workers = await Promise.all([
      world.startWorker({ msPerStep: 2, env }),
      world.startWorker({ msPerStep: 2, env }),
    ]);
    const [first, second] = [await client(), await client()];
    const seen = recordOutcomes(first.connection);
    const requesters = [guildA, guildB, directMessage, cliRequester];
    const jobs = Array.from({ length: 50 }, (_, index) =>
      job(index % 2 === 0 ? first : second, requesters[index % requesters.length]!, `replica ${index}`, 2),
    );
    const [evenJobs, oddJobs] = [jobs.filter((_, i) => i % 2 === 0), jobs.filter((_, i) => i % 2 === 1)];
    const outcomes = await Promise.all(
      (await Promise.all([submitAll(first, evenJobs), submitAll(second, oddJobs)])).flat(),
    );

    expect(outcomes.every((outcome) => outcome.type === 'result')).toBe(true);
    await first.connection.flush();
    expect([...seen.order].sort()).toEqual(jobs.map((queued) => queued.id).sort());
    await Promise.all(workers.map((worker) => worker.stop()));
    const counts = async (outcome: string) =>
      (
        await Promise.all(
          workers.map((worker) => counterValue(worker.metrics, 'sdbot_worker_jobs_total', { outcome })),
        )
      ).reduce((a, b) => a + b);
    expect(await counts('completed')).toBe(50);
    expect(await counts('duplicate')).toBe(0);
  });

  it('keeps backlog jobs through a NATS SIGKILL and restart', async () => {
    const requester = await client();
    const jobs = Array.from({ length: 8 }, (_, index) =>
      job(requester, index % 2 === 0 ? guildA : guildB, `survivor ${index}`, 2),
    );
    for (const queued of jobs) await requester.client.submit(queued, { requireServedModel: false });
    await world.server.restart();
    await world.startWorker({ msPerStep: 5 });
    const outcomes = await Promise.all(
      jobs.map((queued) => requester.client.awaitOutcome(queued.id, { timeoutMs: 30_000 })),
    );
    expect(outcomes.map((outcome) => outcome.type)).toEqual(Array(8).fill('result'));
  });

  it('cancels a job still waiting in the backlog', async () => {
    const workers = [await world.startWorker({ msPerStep: 30 })];
    const requester = await client();
    const [running, onDeck, waiting] = [
      job(requester, guildA, 'running', 150),
      job(requester, guildA, 'on deck', 150),
      job(requester, guildB, 'waiting', 2),
    ];
    const outcomes = await submitAll(requester, [running, onDeck, waiting]);
    expect((await requester.client.state(waiting.id))?.jobStreamSeq).toBeUndefined();
    // What `sdbot status` and KEDA (the backlog observer's pending count) see.
    const jsm = await jetstreamManager(requester.connection);
    const status = await collectStatus(jsm, requester.client.workers);
    expect(status.queues).toMatchObject([{ model: 'sim', queued: 2, backlog: 1, lanes: 1, running: 1 }]);
    expect(status.queues[0]?.oldestQueuedAt).toBe(onDeck.createdAt);
    const observer = () => jsm.consumers.info(STREAMS.backlog, backlogConsumerName('sim'));
    expect((await observer()).num_pending).toBe(1);

    expect((await requester.client.cancel(waiting.id, 'tester'))?.status.state).toBe('cancelled');
    expect((await observer()).num_pending).toBe(0);
    await requester.client.cancel(running.id, 'tester');
    await requester.client.cancel(onDeck.id, 'tester');
    expect(await Promise.all(outcomes)).toMatchObject([
      { code: 'CANCELLED' },
      { code: 'CANCELLED' },
      { type: 'failure', code: 'CANCELLED', message: 'cancelled by tester' },
    ]);
    expect(await counterValue(workers[0]!.metrics, 'sdbot_worker_jobs_total', { outcome: 'completed' })).toBe(
      0,
    );
  });
});
