/**
 * The revision of each job's queued state, read as the dispatcher moves jobs from the backlog: the
 * job then carries it (STATE_REVISION_HEADER), so the worker that takes it moves the state on
 * without reading it first, and the read happens while workers are still busy instead of between
 * two jobs of one. A job whose state is not queued (cancelled while it waited) or could not be
 * read gets none, and its worker reads the state as before; a revision that is stale by the time
 * the worker writes only makes that write read again.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { KV_BUCKETS, jobStateKey, kvStreamName, kvSubject } from '../names.js';
import { parseOrNull } from '../protocol/codec.js';
import { jobStateRecordSchema } from '../protocol/state.js';

export async function queuedRevisions(
  jsm: JetStreamManager,
  jobIds: readonly string[],
): Promise<Map<string, number>> {
  const revisions = new Map<string, number>();
  await Promise.all(
    jobIds.map(async (jobId) => {
      if (jobId === '') return;
      const stored = await jsm.direct
        .getMessage(kvStreamName(KV_BUCKETS.jobs), {
          last_by_subj: kvSubject(KV_BUCKETS.jobs, jobStateKey(jobId)),
        })
        // Only a shortcut: the worker reads the state itself when this read fails.
        .catch(() => null);
      if (stored === null) return;
      // A deleted key is an empty message, which no schema accepts.
      const record = parseOrNull(jobStateRecordSchema, stored.data);
      if (record?.status.state === 'queued' && record.job.id === jobId) revisions.set(jobId, stored.seq);
    }),
  );
  return revisions;
}
