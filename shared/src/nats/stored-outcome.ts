/**
 * A job's outcome as the results stream keeps it: what a requester looks up when it may have missed
 * the live message, and what a worker checks before running a redelivered job.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { STREAMS, SUBJECTS } from '../names.js';
import { decodeMessage } from '../protocol/codec.js';
import { jobOutcomeSchema, type JobOutcome } from '../protocol/outcome.js';

/** The job's stored outcome, or null when no worker published one. */
export async function readStoredOutcome(jsm: JetStreamManager, jobId: string): Promise<JobOutcome | null> {
  const stored = await jsm.streams.getMessage(STREAMS.results, { last_by_subj: SUBJECTS.result(jobId) });
  return stored === null ? null : decodeMessage(jobOutcomeSchema, stored.data);
}
