/**
 * One slot's pull loop: takes turns over the model consumers, asks for exactly one job at a time and
 * hands it to the job runner. The slot asks for its next job when its job is about to end (its fast
 * steps left should take under NEXT_JOB_LEAD_MS, see nextJobPace) and starts it as soon as the job's
 * images are made; that job is then stored and reported beside the next one. At most one job a
 * slot is finishing, so a slow store holds the slot back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { SdbotError, type Logger } from '@sdbot/shared';
import { untilAborted } from './deadline.js';

/** A pull waits this long for a job before asking again (1 s per model when serving several). */
const PULL_EXPIRES_MS = 5000;
const MULTI_MODEL_PULL_EXPIRES_MS = 1000;

/**
 * How long before a job's end its slot asks for the next job, so that the pull's round trip (and the
 * reply's wait behind the worker's other work) overlaps the job's last steps. A job taken this early
 * waits at most this long for the slot (plus the image decoding); NATS answers the oldest pull
 * first, so a worker that is already idle and asking gets the job before this one.
 */
export const NEXT_JOB_LEAD_MS = 100;

/**
 * A delivered job in a slot: `endingSoon` settles once the slot may ask for its next job (see
 * nextJobPace), `slotFree` once it may start it (the job's images are made, or the job ended
 * before), `done` once the job has ended.
 */
export interface SlotJob {
  endingSoon: Promise<void>;
  slotFree: Promise<void>;
  done: Promise<void>;
}

/**
 * Told each step of a job, calls `endingSoon` once the steps left should take under
 * NEXT_JOB_LEAD_MS at its pace, when that pace is under NEXT_JOB_LEAD_MS too. The pace is the faster
 * of the last step and the mean of the steps since the first (the first one holds the job's setup):
 * the last step follows a pace that changes, the mean outlasts one late step (a pause of the
 * process). A slot with slower steps (a CPU worker) asks once it is free: a pull is nothing beside
 * its steps, and a job taken early would wait through its image decoding.
 */
export function nextJobPace(
  endingSoon: () => void,
  clock: () => number = () => performance.now(),
): (step: number, total: number) => void {
  let lastStepAt = clock();
  let firstStepAt = Number.NaN;
  return (step, total) => {
    const now = clock();
    if (step === 1) firstStepAt = now;
    const mean = step > 1 ? (now - firstStepAt) / (step - 1) : Number.POSITIVE_INFINITY;
    const stepMs = Math.min(now - lastStepAt, mean);
    if (stepMs <= NEXT_JOB_LEAD_MS && (total - step) * stepMs <= NEXT_JOB_LEAD_MS) endingSoon();
    lastStepAt = now;
  };
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

/** The promises a job gives its slot (all but `done`) and what settles them. */
export function slotSignals(): {
  promises: Omit<SlotJob, 'done'>;
  endingSoon: () => void;
  /** Also settles `endingSoon`: a slot that is free may ask. */
  freeSlot: () => void;
} {
  // Promise executors run at once: both resolvers are set before this returns.
  let endingSoon = (): void => undefined;
  let slotFree = (): void => undefined;
  const promises = {
    endingSoon: new Promise<void>((resolve) => {
      endingSoon = resolve;
    }),
    slotFree: new Promise<void>((resolve) => {
      slotFree = resolve;
    }),
  };
  return {
    promises,
    endingSoon,
    freeSlot: () => {
      endingSoon();
      slotFree();
    },
  };
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
    /** The slot's job making its images, and the one before it while it is stored and reported. */
    let current: SlotJob | undefined;
    let finishing: Promise<void> = Promise.resolve();
    while (!isStopping()) {
      const model = models[turn % models.length] ?? '';
      turn += 1;
      const consumer = consumers.get(model);
      if (consumer === undefined) break;
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
      // Taken while the slot's job ends: it waits for the slot, and a stop hands it back at once.
      if (current !== undefined) {
        await untilAborted(current.slotFree, this.stop.signal).catch(() => undefined);
        if (!isStopping()) finishing = current.done;
      }
      if (isStopping()) {
        this.deps.released(message, model);
        break;
      }
      current = this.deps.start(message, model);
      // Ask for the next job once this one is ending and the one before it has ended.
      await Promise.all([current.endingSoon, finishing]);
    }
    await Promise.all([finishing, current?.done]);
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
