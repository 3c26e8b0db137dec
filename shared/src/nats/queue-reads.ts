/**
 * What the dispatcher, `sdbot status` and queue positions read of the queues, without changing
 * them: the jobs waiting in each backlog lane, and each model's work queue from its consumer.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { LIMITS } from '../limits.js';
import { STREAMS, SUBJECTS, jobConsumerName } from '../names.js';
import type { QueueState } from './dispatch-rotation.js';
import { isMissingResource, natsFailure } from './errors.js';

/** Jobs waiting in each lane of one model's backlog. */
export type LaneCounts = Map<string, number>;

const backlogPrefix = SUBJECTS.backlogAll.slice(0, -1);

/** Lane counts per model, from the backlog's per-subject message counts. */
export async function backlogLanes(
  jsm: JetStreamManager,
  filter: string = SUBJECTS.backlogAll,
): Promise<Map<string, LaneCounts>> {
  let subjects: Record<string, number>;
  try {
    subjects = (await jsm.streams.info(STREAMS.backlog, { subjects_filter: filter })).state.subjects ?? {};
  } catch (error) {
    throw natsFailure(error, 'reading the backlog');
  }
  const models = new Map<string, LaneCounts>();
  for (const [subject, count] of Object.entries(subjects)) {
    const [model, lane, ...rest] = subject.slice(backlogPrefix.length).split('.');
    // Only well-formed subjects: anything else has no dispatcher and ages out with the stream.
    if (model === undefined || lane === undefined || rest.length > 0 || count === 0) continue;
    if (!LIMITS.idPattern.test(model) || !LIMITS.idPattern.test(lane)) continue;
    const lanes = models.get(model) ?? new Map<string, number>();
    lanes.set(lane, count);
    models.set(model, lanes);
  }
  return models;
}

/** The work queue of `model`, from its consumer (one request). */
export async function readQueue(jsm: JetStreamManager, model: string): Promise<QueueState> {
  try {
    const info = await jsm.consumers.info(STREAMS.jobs, jobConsumerName(model));
    return { pending: info.num_pending, waiting: info.num_waiting, running: info.num_ack_pending };
  } catch (error) {
    if (!isMissingResource(error)) throw natsFailure(error, `reading the job queue of model ${model}`);
  }
  // No worker ever served the model: everything stored is waiting, and nobody asks.
  const subject = SUBJECTS.job(model);
  try {
    const stored = (await jsm.streams.info(STREAMS.jobs, { subjects_filter: subject })).state.subjects;
    return { pending: stored?.[subject] ?? 0, waiting: 0, running: 0 };
  } catch (error) {
    throw natsFailure(error, `reading the job queue of model ${model}`);
  }
}

/** Jobs in a model's work queue that no worker has taken yet. */
export async function readyPending(jsm: JetStreamManager, model: string): Promise<number> {
  return (await readQueue(jsm, model)).pending;
}
