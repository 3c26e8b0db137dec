/**
 * The results stream from the worker's side: one outcome per job, published with the job id as
 * Nats-Msg-Id so a second publish (a redelivered job finishing twice) is dropped by the server.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import {
  STREAMS,
  SUBJECTS,
  encodeMessage,
  jobOutcomeSchema,
  natsFailure,
  type ErrorCode,
  type JobFailure,
  type JobOutcome,
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

export class OutcomePublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /** True when the job already has an outcome: a redelivered copy must not run again. */
  async exists(jobId: string): Promise<boolean> {
    try {
      return (
        (await this.jsm.streams.getMessage(STREAMS.results, { last_by_subj: SUBJECTS.result(jobId) })) !==
        null
      );
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
