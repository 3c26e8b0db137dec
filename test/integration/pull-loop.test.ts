/**
 * A worker slot's pull loop against a real nats-server: the slot asks for its next job once its job
 * is ending (or has freed the slot), starts it once the job's images are made, while that job is
 * still stored and reported, and it never has more than one job finishing: the job after next
 * waits until the first has ended. A job taken early is handed back at once when the worker stops.
 */
import { jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { JOB_FLOW_RESOURCES, STREAMS, SUBJECTS, createLogger, jobConsumerName } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { PullLoops } from '../../worker/src/service/pull-loop.js';
import { eventually } from '../helpers/distributed-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { useProvisionedServer } from '../helpers/provisioned-server.js';

/** A promise with its resolve function, for a job whose stages the test decides. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

type Deferred = ReturnType<typeof deferred>;

/**
 * One slot pulling from `consumer`, each job's stages settled by the test: what it started, what it
 * handed back, and `stop()`. `endingEarly`: a job says it is ending apart from freeing the slot.
 */
function slotUnderTest(consumer: Consumer, { endingEarly }: { endingEarly: boolean }) {
  const started: string[] = [];
  const released: string[] = [];
  const stages: { endingSoon: Deferred; slotFree: Deferred; done: Deferred }[] = [];
  let stopping = false;
  const loops = new PullLoops({
    consumers: new Map([['sim', consumer]]),
    isStopping: () => stopping,
    start: (message: JsMsg) => {
      message.ack();
      started.push(message.string());
      const slotFree = deferred();
      const stage = { endingSoon: endingEarly ? deferred() : slotFree, slotFree, done: deferred() };
      stages.push(stage);
      return {
        endingSoon: stage.endingSoon.promise,
        slotFree: stage.slotFree.promise,
        done: stage.done.promise,
      };
    },
    released: (message) => {
      released.push(message.string());
      message.nak();
    },
    logger: createLogger({ name: 'pull-loop-test', level: 'silent' }),
  });
  return {
    running: loops.run(1),
    started,
    released,
    stages,
    stop: () => {
      stopping = true;
      loops.interrupt();
    },
  };
}

describe.skipIf(!natsServerAvailable())('a slot pulling its next job (real nats-server)', () => {
  const nats = useProvisionedServer({ resources: JOB_FLOW_RESOURCES, models: ['sim'] });

  it('takes the next job while the last one finishes, and holds at most one finishing', async () => {
    const js = jetstream(nats.connection);
    for (const name of ['first', 'second', 'third']) await js.publish(SUBJECTS.job('sim'), name);
    const consumer = await js.consumers.get(STREAMS.jobs, jobConsumerName('sim'));
    // Ending only as it frees the slot: the pull comes when the images are made.
    const { running, started, stages, stop } = slotUnderTest(consumer, { endingEarly: false });

    await eventually(() => Promise.resolve(started.length === 1), 5000, 'the first job');
    stages[0]?.slotFree.resolve();
    await eventually(
      () => Promise.resolve(started.length === 2),
      5000,
      'the second job, while the first finishes',
    );
    expect(started).toEqual(['first', 'second']);

    stages[1]?.slotFree.resolve();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(started).toHaveLength(2);
    stages[0]?.done.resolve();
    await eventually(
      () => Promise.resolve(started.length === 3),
      5000,
      'the third job, once the first has ended',
    );
    expect(started).toEqual(['first', 'second', 'third']);

    stop();
    let stopped = false;
    void running.then(() => {
      stopped = true;
    });
    stages[2]?.slotFree.resolve();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A slot stops only once its jobs have ended.
    expect(stopped).toBe(false);
    for (const stage of stages) stage.done.resolve();
    await running;
  });

  it('asks for the next job while its job ends, starts it when the slot is free, and hands it back on a stop', async () => {
    const js = jetstream(nats.connection);
    const jsm = await jetstreamManager(nats.connection);
    const consumerName = jobConsumerName('sim');
    const waiting = async (): Promise<number> =>
      (await jsm.consumers.info(STREAMS.jobs, consumerName)).num_pending;
    for (const name of ['first', 'second', 'third', 'fourth']) await js.publish(SUBJECTS.job('sim'), name);
    const consumer = await js.consumers.get(STREAMS.jobs, consumerName);
    const { running, started, released, stages, stop } = slotUnderTest(consumer, { endingEarly: true });
    await eventually(() => Promise.resolve(started.length === 1), 5000, 'the first job');
    expect(await waiting()).toBe(3);

    // Ending: the second job is taken, and waits for the slot.
    stages[0]?.endingSoon.resolve();
    await eventually(async () => (await waiting()) === 2, 5000, 'the second job taken');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(started).toEqual(['first']);
    stages[0]?.slotFree.resolve();
    await eventually(() => Promise.resolve(started.length === 2), 5000, 'the second job started');

    // The second is ending too, but the first still finishes: the third waits for it.
    stages[1]?.endingSoon.resolve();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await waiting()).toBe(2);
    stages[0]?.done.resolve();
    await eventually(async () => (await waiting()) === 1, 5000, 'the third job taken');
    stages[1]?.slotFree.resolve();
    await eventually(() => Promise.resolve(started.length === 3), 5000, 'the third job started');

    // The fourth is taken while the third ends; the worker stops before the slot is free.
    stages[1]?.done.resolve();
    stages[2]?.endingSoon.resolve();
    await eventually(async () => (await waiting()) === 0, 5000, 'the fourth job taken');
    stop();
    await eventually(() => Promise.resolve(released.length === 1), 5000, 'the fourth job handed back');
    expect(released).toEqual(['fourth']);
    expect(started).toEqual(['first', 'second', 'third']);
    stages[2]?.slotFree.resolve();
    stages[2]?.done.resolve();
    await running;
  });
});
