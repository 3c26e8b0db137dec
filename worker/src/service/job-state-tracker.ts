/**
 * The state of one running job as this worker last wrote it: each compare-and-set uses the
 * revision it got from the previous write instead of reading the record again, and falls back to a
 * read only when someone else (a cancellation) wrote in between.
 */
import type {
  GenerationJob,
  JobStateChange,
  JobStateEntry,
  JobStateStore,
  JobStatus,
  TransitionOptions,
} from '@sdbot/shared';

export class JobStateTracker {
  constructor(
    private readonly store: JobStateStore,
    private readonly job: GenerationJob,
    private entry: JobStateEntry | null,
  ) {}

  async transition(
    status: JobStatus,
    options: Omit<TransitionOptions, 'known'> = {},
  ): Promise<JobStateChange> {
    const change = await this.store.transition(this.job, status, { ...options, known: this.entry });
    this.entry = change.entry;
    return change;
  }
}
