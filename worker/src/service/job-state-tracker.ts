/**
 * The state of one running job as this worker last wrote it: its writes go one at a time, and each
 * compare-and-set uses the revision it got from the previous write instead of reading the record
 * again, and falls back to a read only when someone else (a cancellation) wrote in between. Every
 * write is bounded by a deadline: the job's while it runs, a plain time limit while its outcome is
 * recorded. The first write may start from the queued state whose revision the job carries
 * (queuedStateOf).
 */
import type { JsMsg } from '@nats-io/jetstream';
import {
  STATE_REVISION_HEADER,
  type Job,
  type JobStateChange,
  type JobStateEntry,
  type JobStateStore,
  type JobStatus,
  type TransitionOptions,
} from '@sdbot/shared';
import { withDeadline, type JobDeadline } from './deadline.js';

export class JobStateTracker {
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: JobStateStore,
    private readonly job: Job,
    private entry: JobStateEntry | null,
    private readonly deadline: JobDeadline,
  ) {}

  /** Writes one at a time, each from the revision the one before it left. */
  transition(
    status: JobStatus,
    options: Omit<TransitionOptions, 'known'> = {},
    deadline: JobDeadline = this.deadline,
  ): Promise<JobStateChange> {
    const write = this.last.then(async () => {
      const change = await withDeadline(`writing the state of job ${this.job.id}`, deadline, () =>
        this.store.transition(this.job, status, { ...options, known: this.entry }),
      );
      this.entry = change.entry;
      return change;
    });
    this.last = write.catch(() => undefined);
    return write;
  }
}

/**
 * The queued state the submitter wrote just before a first delivery of the job, as it wrote it
 * (STATE_REVISION_HEADER), or null when it does not say (a job moved from the backlog, a
 * redelivery, an older bot). Writing the next state against that revision either lands (nobody
 * wrote since, so nothing ran or ended the job) or reads the state again.
 */
export function queuedStateOf(message: JsMsg, job: Job): JobStateEntry | null {
  if (message.info.deliveryCount !== 1) return null;
  const revision = Number(message.headers?.get(STATE_REVISION_HEADER) ?? '');
  if (!Number.isSafeInteger(revision) || revision <= 0) return null;
  return { record: { v: 1, job, status: { state: 'queued' }, updatedAt: job.createdAt }, revision };
}
