/**
 * The results stream from the worker's side: one outcome per job, published with the job id as
 * Nats-Msg-Id so a second publish (a redelivered job finishing twice) is dropped by the server.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import {
  SUBJECTS,
  encodeMessage,
  jobOutcomeSchema,
  natsFailure,
  readStoredOutcome,
  type ErrorCode,
  type JobFailure,
  type JobOutcome,
  type JobStatus,
} from '@sdbot/shared';

/** Longest failure message the protocol carries. */
const MESSAGE_MAX_CHARS = 2000;

export function failureOutcome(
  jobId: string,
  code: ErrorCode,
  message: string,
  retryable: boolean,
  workerId?: string,
): JobFailure {
  const failure: JobFailure = {
    v: 1,
    type: 'failure',
    jobId,
    code,
    retryable,
    message: message.slice(0, MESSAGE_MAX_CHARS) || code,
    failedAt: Date.now(),
  };
  if (workerId !== undefined) failure.workerId = workerId;
  return failure;
}

/** The final state an outcome stands for (a state left behind by another delivery is set to it). */
export function finalStatusOf(outcome: JobOutcome): JobStatus {
  if (outcome.type === 'result') {
    const { workerId, images, completedAt } = outcome;
    return { state: 'completed', workerId, images, completedAt };
  }
  if (outcome.code === 'CANCELLED') {
    const cancelledBy = outcome.message.replace(/^cancelled by /, '').slice(0, 64) || 'unknown';
    return { state: 'cancelled', cancelledBy, cancelledAt: outcome.failedAt };
  }
  return { state: 'failed', code: outcome.code, message: outcome.message, failedAt: outcome.failedAt };
}

export class OutcomePublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /** The job's outcome if it has one: a redelivered copy must not run again. */
  async find(jobId: string): Promise<JobOutcome | null> {
    try {
      return await readStoredOutcome(this.jsm, jobId);
    } catch (error) {
      throw natsFailure(error, `looking up the outcome of job ${jobId}`);
    }
  }

  async publish(outcome: JobOutcome): Promise<void> {
    try {
      await this.js.publish(SUBJECTS.result(outcome.jobId), encodeMessage(jobOutcomeSchema, outcome), {
        msgID: outcome.jobId,
      });
    } catch (error) {
      throw natsFailure(error, `publishing the outcome of job ${outcome.jobId}`);
    }
  }
}
