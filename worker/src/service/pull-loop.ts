/**
 * One slot's pull loop: takes turns over the model consumers, asks for exactly one job at a time (a
 * busy worker never holds jobs an idle one could run) and hands it to the job runner. The slot asks
 * for its next job as soon as a job's images are made, and the job is stored and reported beside
 * the next one; at most one job a slot is finishing, so a slow store holds the slot back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { SdbotError, type Logger } from '@sdbot/shared';
import { untilAborted } from './deadline.js';

/** A pull waits this long for a job before asking again (1 s per model when serving several). */
const PULL_EXPIRES_MS = 5000;
const MULTI_MODEL_PULL_EXPIRES_MS = 1000;

/**
 * A delivered job in a slot: `slotFree` settles once the slot may take its next job (the job's
 * images are made, or the job ended before), `done` once the job has ended.
 */
export interface SlotJob {
  slotFree: Promise<void>;
  done: Promise<void>;
}

export interface PullLoopDeps {
  /** One consumer per model this worker serves. */
  consumers: ReadonlyMap<string, Consumer>;
  /** Read on every turn: the flag changes while a pull is waiting. */
  isStopping: () => boolean;
  /** Starts one job (every failure handled inside). */
  start: (message: JsMsg, model: string) => SlotJob;
  /** A job that arrived as the worker stopped, handed straight back. */
  released: (message: JsMsg, model: string) => void;
  logger: Logger;
}

export class PullLoops {
  private readonly pulls = new Set<ConsumerMessages>();
  /** Aborted by interrupt(): a pull request or back-off wait in flight ends at once. */
  private readonly stop = new AbortController();

  constructor(private readonly deps: PullLoopDeps) {}

  /** Starts one loop per slot; the promise settles when every loop has returned. */
  run(slots: number): Promise<void> {
    return Promise.all(Array.from({ length: slots }, (_, slot) => this.loop(slot))).then(() => undefined);
  }

  /** Ends the pulls in flight, so the loops see the stop flag at once. */
  interrupt(): void {
    this.stop.abort(new SdbotError('WORKER_SHUTDOWN', 'the worker is stopping'));
    for (const pull of this.pulls) pull.stop();
  }

  private async loop(slot: number): Promise<void> {
    const { consumers, isStopping, logger } = this.deps;
    const models = [...consumers.keys()];
    const expires = models.length > 1 ? MULTI_MODEL_PULL_EXPIRES_MS : PULL_EXPIRES_MS;
    let turn = slot;
    let failures = 0;
    /** The slot's previous job while it is stored and reported. */
    let finishing: Promise<void> = Promise.resolve();
    while (!isStopping()) {
      const model = models[turn % models.length] ?? '';
      turn += 1;
      const consumer = consumers.get(model);
      if (consumer === undefined) return;
      let message: JsMsg | undefined;
      try {
        message = await this.pullOne(consumer, expires);
        failures = 0;
      } catch (error) {
        if (isStopping()) break;
        failures += 1;
        logger.warn({ err: error, model, failures }, 'pull:failed');
        await sleep(Math.min(250 * 2 ** failures, 5000), undefined, { signal: this.stop.signal }).catch(
          () => undefined,
        );
        continue;
      }
      if (message === undefined) continue;
      if (isStopping()) {
        this.deps.released(message, model);
        break;
      }
      const job = this.deps.start(message, model);
      await job.slotFree;
      await finishing;
      finishing = job.done;
    }
    await finishing;
  }

  private async pullOne(consumer: Consumer, expires: number): Promise<JsMsg | undefined> {
    // The request itself may wait on a server that is gone: the loop must still see the stop.
    const fetching = consumer.fetch({ max_messages: 1, expires });
    // Answered after the stop: end that pull too, so it holds no job.
    void fetching.then(
      (late) => {
        if (this.stop.signal.aborted) late.stop();
      },
      () => undefined,
    );
    const messages = await untilAborted(fetching, this.stop.signal);
    this.pulls.add(messages);
    try {
      for await (const message of messages) return message;
      return undefined;
    } finally {
      this.pulls.delete(messages);
    }
  }
}
