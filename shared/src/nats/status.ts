/**
 * A snapshot of the job system for operators (`sdbot status`): live workers, the queue of each
 * model, and the dead letters with their reasons. Read-only, using only stream/consumer info and
 * message gets, so it needs no consumer of its own.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { LIMITS } from '../limits.js';
import { STREAMS, SUBJECTS, jobConsumerName } from '../names.js';
import { deadLetterSchema, type DeadLetter } from '../protocol/control.js';
import type { WorkerHeartbeat } from '../protocol/worker.js';
import { isMissingResource, natsFailure } from './errors.js';
import type { WorkerRegistry } from './kv.js';

export interface ModelQueue {
  model: string;
  /** Jobs waiting for a worker. */
  queued: number;
  /** Jobs handed to a worker and not yet acknowledged. */
  running: number;
  /** Submission time of the oldest waiting job (ms since epoch). */
  oldestQueuedAt: number | null;
  /** Live workers serving the model. */
  workers: number;
}

export interface DeadLetterSummary {
  count: number;
  /** The most recent dead letters, newest first. */
  recent: DeadLetter[];
}

export interface JobSystemStatus {
  at: number;
  workers: WorkerHeartbeat[];
  queues: ModelQueue[];
  deadLetters: DeadLetterSummary;
}

const jobSubjectPrefix = SUBJECTS.jobsAll.slice(0, -1);

async function modelQueue(
  jsm: JetStreamManager,
  model: string,
  stored: number,
  workers: number,
): Promise<ModelQueue> {
  let queued = stored;
  let running = 0;
  let delivered = 0;
  try {
    const info = await jsm.consumers.info(STREAMS.jobs, jobConsumerName(model));
    queued = info.num_pending;
    running = info.num_ack_pending;
    delivered = info.delivered.stream_seq;
  } catch (error) {
    // No consumer yet: no worker ever served the model, so everything stored is waiting.
    if (!isMissingResource(error)) throw natsFailure(error, `reading the queue of model ${model}`);
  }
  let oldestQueuedAt: number | null = null;
  if (queued > 0) {
    const oldest = await jsm.direct
      .getMessage(STREAMS.jobs, { next_by_subj: SUBJECTS.job(model), seq: delivered + 1 })
      .catch((error: unknown) => {
        throw natsFailure(error, `reading the oldest job of model ${model}`);
      });
    oldestQueuedAt = oldest === null ? null : oldest.time.getTime();
  }
  return { model, queued, running, oldestQueuedAt, workers };
}

async function recentDeadLetters(jsm: JetStreamManager, limit: number): Promise<DeadLetterSummary> {
  let state;
  try {
    state = (await jsm.streams.info(STREAMS.deadLetters)).state;
  } catch (error) {
    throw natsFailure(error, 'reading the dead letters');
  }
  const recent: DeadLetter[] = [];
  // Walk back from the newest; deleted sequences are skipped, so look a little further than `limit`.
  for (let seq = state.last_seq; seq >= state.first_seq && seq > 0 && recent.length < limit; seq -= 1) {
    if (state.last_seq - seq > limit * 4) break;
    const stored = await jsm.streams.getMessage(STREAMS.deadLetters, { seq }).catch(() => null);
    if (stored === null) continue;
    const parsed = deadLetterSchema.safeParse(stored.json());
    if (parsed.success) recent.push(parsed.data);
  }
  return { count: state.messages, recent };
}

export async function collectStatus(
  jsm: JetStreamManager,
  registry: WorkerRegistry,
  { recentDeadLetterCount = 5, now = Date.now() } = {},
): Promise<JobSystemStatus> {
  const workers = await registry.list();
  let subjects: Record<string, number>;
  try {
    subjects =
      (await jsm.streams.info(STREAMS.jobs, { subjects_filter: SUBJECTS.jobsAll })).state.subjects ?? {};
  } catch (error) {
    throw natsFailure(error, 'reading the job queue');
  }
  const stored = new Map<string, number>();
  for (const [subject, count] of Object.entries(subjects)) {
    const model = subject.slice(jobSubjectPrefix.length);
    // A job published on a malformed subject has no consumer; it ages out with the stream.
    if (LIMITS.idPattern.test(model)) stored.set(model, count);
  }
  const served = new Map<string, number>();
  for (const worker of workers) {
    for (const model of worker.models) served.set(model.id, (served.get(model.id) ?? 0) + 1);
  }
  const models = [...new Set([...served.keys(), ...stored.keys()])].sort();
  const queues = await Promise.all(
    models.map((model) => modelQueue(jsm, model, stored.get(model) ?? 0, served.get(model) ?? 0)),
  );
  return { at: now, workers, queues, deadLetters: await recentDeadLetters(jsm, recentDeadLetterCount) };
}
