/**
 * What wakes a fair dispatcher between its timer's looks: a worker slot freeing up, told by the
 * worker's pull request on the work queue's consumer. Every slot asks for a job once it is free,
 * and a GPU slot shortly before its job ends: a job moved then is waiting when the slot frees,
 * where on the job's outcome it would come after (slots that end together, the first round after
 * a burst, would wait for one another's outcomes). Outcomes wake it only where the server refuses
 * the pull requests (permissions that predate them).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';
import { SUBJECTS } from '../names.js';

export function watchSlotsFreeing(
  connection: NatsConnection,
  onSlotFreeing: () => void,
  logger?: Logger,
): { stop(): void } {
  let results: Subscription | undefined;
  const pulls = connection.subscribe(SUBJECTS.workerPulls, {
    callback: (error) => {
      if (error === null) {
        onSlotFreeing();
        return;
      }
      results ??= connection.subscribe(SUBJECTS.resultsAll, { callback: onSlotFreeing });
      logger?.warn(
        { err: error, subject: SUBJECTS.workerPulls, next: 'dispatching on outcomes and the timer' },
        LOG_EVENTS.dispatch.pullsUnheard,
      );
    },
  });
  return {
    stop: () => {
      pulls.unsubscribe();
      results?.unsubscribe();
    },
  };
}
