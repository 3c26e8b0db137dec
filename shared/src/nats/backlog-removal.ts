/**
 * Takes jobs that were moved to the work queue out of the backlog. The jobs a dispatcher read from
 * the head of a lane are that lane's oldest, with none left between them: one purge of the lane's
 * subject up to the last of them removes them all (one of them that another dispatcher moved
 * first is gone already, and a job that came later has a higher sequence and stays). Any other
 * moved job (remembered at its submission, or hurried when cancelled) is deleted by its sequence,
 * and so are a run's jobs when its purge fails (a user not allowed to purge).
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { STREAMS } from '../names.js';
import { natsFailure } from './errors.js';

export interface MovedJob {
  seq: number;
  jobId: string;
  /** The lane's subject, when the job was read from the head of that lane (in reading order). */
  head?: string;
}

/**
 * Removes the `jobs` whose entry in `published` is true. Jobs of one head come in reading order; a
 * run stops at the first that was not published (it stays, and the ones after it are deleted one
 * by one).
 */
export async function removeFromBacklog(
  jsm: JetStreamManager,
  jobs: readonly MovedJob[],
  published: readonly boolean[],
): Promise<void> {
  const runs = new Map<string, MovedJob[]>();
  const broken = new Set<string>();
  const singles: MovedJob[] = [];
  jobs.forEach((job, index) => {
    const { head } = job;
    if (published[index] !== true) {
      if (head !== undefined) broken.add(head);
      return;
    }
    if (head === undefined || broken.has(head)) singles.push(job);
    else runs.set(head, [...(runs.get(head) ?? []), job]);
  });
  const removals = await Promise.allSettled([
    ...[...runs].map(([head, run]) => purgeRun(jsm, head, run)),
    ...singles.map((job) => deleteOne(jsm, job)),
  ]);
  const failure = removals.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
}

async function purgeRun(jsm: JetStreamManager, head: string, run: readonly MovedJob[]): Promise<void> {
  const last = run.at(-1);
  if (last === undefined) return;
  try {
    await jsm.streams.purge(STREAMS.backlog, { filter: head, seq: last.seq + 1 });
  } catch {
    await Promise.all(run.map((job) => deleteOne(jsm, job)));
  }
}

async function deleteOne(jsm: JetStreamManager, { seq, jobId }: MovedJob): Promise<void> {
  try {
    await jsm.streams.deleteMessage(STREAMS.backlog, seq, false);
  } catch (error) {
    // Another dispatcher moved and deleted it first: the msgID made our publish a duplicate.
    if (!(error instanceof Error && /no message found|not found/i.test(error.message))) {
      throw natsFailure(error, `removing job ${jobId} from the backlog`);
    }
  }
}
