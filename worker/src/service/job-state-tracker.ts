/**
 * The state of one running job as this worker last wrote it: each compare-and-set uses the
 * revision it got from the previous write instead of reading the record again, and falls back to a
 * read only when someone else (a cancellation) wrote in between. Every write is bounded by a
 * deadline: the job's while it runs, a plain time limit while its outcome is recorded.
 */
import type {
  Job,
  JobStateChange,
  JobStateEntry,
  JobStateStore,
  JobStatus,
  TransitionOptions,
} from '@sdbot/shared';
import { withDeadline, type JobDeadline } from './deadline.js';

export class JobStateTracker {
  constructor(
    private readonly store: JobStateStore,
    private readonly job: Job,
    private entry: JobStateEntry | null,
    private readonly deadline: JobDeadline,
  ) {}

  async transition(
    status: JobStatus,
    options: Omit<TransitionOptions, 'known'> = {},
    deadline: JobDeadline = this.deadline,
  ): Promise<JobStateChange> {
    const change = await withDeadline(`writing the state of job ${this.job.id}`, deadline, () =>
      this.store.transition(this.job, status, { ...options, known: this.entry }),
    );
    this.entry = change.entry;
    return change;
  }
}
