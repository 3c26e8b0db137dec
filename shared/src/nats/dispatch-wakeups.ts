/**
 * What wakes a fair dispatcher between its timer's looks: a worker slot freeing up. An outcome says
 * one has; a worker's pull request says one is about to, since a slot asks for its next job
 * shortly before its job ends. A job moved on the pull is waiting when the slot frees, where on
 * the outcome it would come after; slots that end together (the first round after a burst) would
 * otherwise wait for one another's outcomes.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';
import { SUBJECTS } from '../names.js';

export function watchSlotsFreeing(
  connection: NatsConnection,
  onSlotFreeing: () => void,
  logger?: Logger,
): { stop(): void } {
  const results = connection.subscribe(SUBJECTS.resultsAll, { callback: onSlotFreeing });
  const pulls = connection.subscribe(SUBJECTS.workerPulls, {
    callback: (error) => {
      if (error === null) {
        onSlotFreeing();
        return;
      }
      // A server whose permissions predate this (deploy/nats/accounts.conf) refuses it: outcomes
      // and the timer still wake the dispatcher, as they did before.
      logger?.warn(
        { err: error, subject: SUBJECTS.workerPulls, next: 'dispatching on outcomes and the timer' },
        LOG_EVENTS.dispatch.pullsUnheard,
      );
    },
  });
  return {
    stop: () => {
      results.unsubscribe();
      pulls.unsubscribe();
    },
  };
}
