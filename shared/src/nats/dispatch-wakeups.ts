/**
 * What wakes a fair dispatcher between its timer's looks: a worker slot freeing up, told by the
 * worker's pull request on the work queue's consumer. Every slot asks for a job once it is free,
 * and a GPU slot shortly before its job ends: a job moved then is waiting when the slot frees,
 * where on the job's outcome it would come after (slots that end together, the first round after
 * a burst, would wait for one another's outcomes). Outcomes wake it only where the server refuses
 * the pull requests (permissions that predate them).
 *
 * Hearing every request also tells the dispatcher when a pass would be wasted: a work queue that a
 * pass left full gets room only when a slot asks, so until one does, a job submitted meanwhile
 * goes to the backlog without a pass (a flood into a busy pool would otherwise cost each job two
 * reads of the queues).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';
import { SUBJECTS } from '../names.js';

export interface SlotWatch {
  /** Taken as a pass begins: the requests heard so far (undefined where they are not heard). */
  mark(): number | undefined;
  /** What the pass that began at `mark` found: these models' work queues full, jobs left waiting. */
  found(mark: number | undefined, fullModels: readonly string[]): void;
  /** A pass left the model's work queue full and no slot has asked since: a pass now moves nothing. */
  isFull(model: string): boolean;
  stop(): void;
}

export function watchSlotsFreeing(
  connection: NatsConnection,
  onSlotFreeing: () => void,
  logger?: Logger,
): SlotWatch {
  let results: Subscription | undefined;
  let asked: number | undefined;
  let full = new Set<string>();
  let fullSince: number | undefined;
  const pulls = connection.subscribe(SUBJECTS.workerPulls, {
    callback: (error) => {
      if (error === null) {
        asked = (asked ?? 0) + 1;
        onSlotFreeing();
        return;
      }
      asked = undefined;
      results ??= connection.subscribe(SUBJECTS.resultsAll, { callback: onSlotFreeing });
      logger?.warn(
        { err: error, subject: SUBJECTS.workerPulls, next: 'dispatching on outcomes and the timer' },
        LOG_EVENTS.dispatch.pullsUnheard,
      );
    },
  });
  return {
    mark: () => asked,
    found: (mark, fullModels) => {
      full = new Set(fullModels);
      fullSince = mark;
    },
    // Requests missed while the connection was down leave it full until the timer's pass looks.
    isFull: (model) => asked !== undefined && fullSince === asked && full.has(model),
    stop: () => {
      pulls.unsubscribe();
      results?.unsubscribe();
    },
  };
}
