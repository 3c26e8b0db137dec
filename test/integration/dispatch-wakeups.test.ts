/**
 * What wakes the fair dispatcher besides its timer, against a real nats-server: a worker's pull
 * request moves a job from the backlog at once (no outcome needed), and a server that refuses the
 * bot those requests leaves the dispatcher working on outcomes (and its timer), saying so in the
 * log. While no slot asks, a work queue a pass left full stays full: submissions skip the pass.
 */
import { jetstream, jetstreamManager, type Consumer } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  FairDispatcher,
  JobStateStore,
  KV_BUCKETS,
  STREAMS,
  SUBJECTS,
  createLogger,
  jobConsumerName,
  loadConfig,
  openBucket,
  provisionJetStream,
} from '@sdbot/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/distributed-world.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../helpers/nats-server.js';

/** A user who may do everything but hear workers' pull requests (accounts.conf before them). */
const DEAF_USER = `
authorization {
  users: [
    { user: deaf, password: deaf-password, permissions: { subscribe: { deny: ["$JS.API.CONSUMER.MSG.NEXT.>"] } } }
  ]
}
`;

describe.skipIf(!natsServerAvailable())('what wakes the dispatcher (real nats-server)', () => {
  let server: NatsTestServer | undefined;
  const connections: NatsConnection[] = [];
  afterEach(async () => {
    await Promise.all(connections.splice(0).map((connection) => connection.close()));
    await server?.cleanup();
  });

  /** A provisioned server, three jobs in one lane of model sim's backlog, a dispatcher (not started). */
  async function world(options: { extraConfig?: string; user?: { user: string; pass: string } } = {}) {
    server = await startNatsServer(
      options.extraConfig === undefined ? {} : { extraConfig: options.extraConfig },
    );
    const connection = await connect({ servers: server.url, ...options.user });
    connections.push(connection);
    const js = jetstream(connection);
    const jsm = await jetstreamManager(connection);
    await provisionJetStream(jsm, loadConfig({ env: {} }), { models: ['sim'] });
    for (const id of ['job-1', 'job-2', 'job-3']) {
      await js.publish(SUBJECTS.backlog('sim', 'lane-a'), id, { msgID: id });
    }
    const lines: string[] = [];
    const cursors = await openBucket(js, KV_BUCKETS.dispatch);
    const jobStates = await JobStateStore.open(js);
    const logger = createLogger({ name: 'test', destination: { write: (line: string) => lines.push(line) } });
    const dispatcher = (intervalMs: number) =>
      new FairDispatcher({ connection, js, jsm, cursors, jobStates, intervalMs, logger });
    const consumer = await js.consumers.get(STREAMS.jobs, jobConsumerName('sim'));
    return { dispatcher, consumer, lines, jsm, connection };
  }

  it('moves a job as a worker asks for one, without an outcome or the timer', async () => {
    const { dispatcher, consumer, jsm } = await world();
    // The timer never comes within the test, and no worker publishes an outcome.
    const running = dispatcher(600_000);
    running.start();
    try {
      // The first passes fill the work queue to its target, one job for the next slot to free,
      // before anyone asks.
      await running.kick();
      expect((await jsm.streams.info(STREAMS.jobs)).state.messages).toBe(1);
      expect(await pullOne(consumer, 10_000)).toBe('job-1');
      // The queue is empty now: only the pull itself can wake the dispatcher in time.
      expect(await pullOne(consumer, 10_000)).toBe('job-2');
    } finally {
      running.stop();
    }
  });

  it('sends jobs submitted while the work queue is full to the backlog without a pass, until a slot asks', async () => {
    const { dispatcher, consumer, jsm } = await world();
    const running = dispatcher(600_000);
    const passes = countPasses(running);
    running.start();
    try {
      await running.kick();
      // A slot asks: it takes job-1, and the pass it wakes fills the queue again (job-2), leaving
      // job-3 in the backlog. No slot asks after that.
      expect(await pullOne(consumer, 10_000)).toBe('job-1');
      await eventually(
        async () => (await jsm.streams.info(STREAMS.jobs)).state.messages === 1,
        10_000,
        'job-2 to be queued',
      );
      await running.kick();
      const before = passes.count;
      // What a submission asks for while the queue is full: no pass, and the offer is refused.
      await running.kick('sim');
      const offered = { model: 'sim', lane: 'lane-b', admitted: Promise.resolve() };
      const job = { seq: 0, data: new TextEncoder().encode('job-4'), jobId: 'job-4' };
      const queueing = () => Promise.reject(new Error('a full queue takes no offer'));
      expect(await running.offer({ ...offered, job, queueing })).toBeNull();
      expect(passes.count).toBe(before);
      // The next slot to ask wakes a pass again: job-2 is waiting for it, and job-3 follows.
      expect(await pullOne(consumer, 10_000)).toBe('job-2');
      expect(await pullOne(consumer, 10_000)).toBe('job-3');
      expect(passes.count).toBeGreaterThan(before);
    } finally {
      running.stop();
    }
  });

  it('works on outcomes when the server refuses it the pull requests, and says so', async () => {
    const { dispatcher, consumer, lines, jsm, connection } = await world({
      extraConfig: DEAF_USER,
      user: { user: 'deaf', pass: 'deaf-password' },
    });
    const running = dispatcher(600_000);
    const passes = countPasses(running);
    running.start();
    try {
      await eventually(
        () => Promise.resolve(lines.some((line) => line.includes('"msg":"dispatch:pulls-unheard"'))),
        10_000,
        'the refused subscription to be logged',
      );
      await running.kick();
      expect((await jsm.streams.info(STREAMS.jobs)).state.messages).toBe(1);
      // Unheard slots never count as none asking: a submission still runs a pass.
      const before = passes.count;
      await running.kick('sim');
      expect(passes.count).toBe(before + 1);
      expect(await pullOne(consumer, 10_000)).toBe('job-1');
      // Nothing moves on the pull now; the outcome of job-1 (its content does not matter here)
      // frees the slot as far as the dispatcher can tell.
      const next = pullOne(consumer, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await jsm.streams.info(STREAMS.jobs)).state.messages).toBe(0);
      connection.publish(SUBJECTS.result('job-1'), '{}');
      expect(await next).toBe('job-2');
    } finally {
      running.stop();
    }
  });
});

/** Counts the dispatcher's passes as they begin. */
function countPasses(dispatcher: FairDispatcher): { count: number } {
  const passes = { count: 0 };
  const dispatchOnce = dispatcher.dispatchOnce.bind(dispatcher);
  dispatcher.dispatchOnce = () => {
    passes.count += 1;
    return dispatchOnce();
  };
  return passes;
}

/** One job's payload from a pull of one message (acknowledged), or undefined when it expires. */
async function pullOne(consumer: Consumer, expiresMs: number): Promise<string | undefined> {
  const messages = await consumer.fetch({ max_messages: 1, expires: expiresMs });
  for await (const message of messages) {
    message.ack();
    return message.string();
  }
  return undefined;
}
