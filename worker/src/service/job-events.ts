/**
 * What happens to the jobs of one worker, as typed events (graphile-worker's job events): the
 * runner and the failure policy say what happened, and whoever cares (metrics, tests, an embedding
 * program) listens, instead of each part calling the metrics itself.
 */
import { EventEmitter } from 'node:events';
import type { ErrorCode } from '@sdbot/shared';
import type { DeliveryOutcome } from './metrics.js';

export interface JobStartedEvent {
  jobId: string;
  model: string;
  /** 1 on the first delivery; more when the job came back (a retry, a dead worker). */
  deliveries: number;
}

export interface JobEndedEvent {
  /** Null for a message too malformed to name its job. */
  jobId: string | null;
  model: string;
  /** How this delivery ended (the `outcome` label of sdbot_worker_jobs_total). */
  outcome: DeliveryOutcome;
  /** The error code, for deliveries that did not complete. */
  code?: ErrorCode;
}

interface JobEventMap {
  'job:started': [JobStartedEvent];
  'job:ended': [JobEndedEvent];
}

export class JobEvents extends EventEmitter<JobEventMap> {}
