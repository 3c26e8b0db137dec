/**
 * A snapshot of the job system for operators (`sdbot status`): live workers, the queue of each
 * model (work queue plus fair-share backlog), and the dead letters with their reasons. Read-only, using only stream/consumer info and
 * message gets, so it needs no consumer of its own.
 */
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { z } from 'zod';
import { LIMITS } from '../limits.js';
import { STREAMS, SUBJECTS, jobConsumerName } from '../names.js';
import { deadLetterSchema, type DeadLetter } from '../protocol/control.js';
import type { WorkerHeartbeat } from '../protocol/worker.js';
import { isMissingResource, natsFailure } from './errors.js';
import { backlogLanes, type LaneCounts } from './queue-reads.js';
import type { WorkerRegistry } from './kv.js';

export interface ModelQueue {
  model: string;
  /** Jobs waiting for a worker: in the work queue plus in the backlog. */
  queued: number;
  /** Of those, jobs still in the backlog waiting for their lane's turn. */
  backlog: number;
  /** Lanes (guilds, direct messages, CLI) with jobs in the backlog. */
  lanes: number;
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

/** When a stored job was submitted: its createdAt (a moved job was stored again when dispatched). */
function submittedAt(stored: StoredMsg): number {
  const parsed = z.object({ createdAt: z.number() }).safeParse(safeJson(stored.data));
  return parsed.success ? parsed.data.createdAt : stored.time.getTime();
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

async function modelQueue(
  jsm: JetStreamManager,
  model: string,
  stored: number,
  lanes: LaneCounts,
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
  const oldest = async (stream: string, subject: string, seq: number) => {
    const stored = await jsm.direct
      .getMessage(stream, { next_by_subj: subject, seq })
      .catch((error: unknown) => {
        throw natsFailure(error, `reading the oldest job of model ${model}`);
      });
    return stored === null ? [] : [submittedAt(stored)];
  };
  const backlog = [...lanes.values()].reduce((sum, count) => sum + count, 0);
  // Jobs keep their order within a lane, so the backlog's oldest is the oldest of some lane's head.
  const times = [
    ...(queued > 0 ? await oldest(STREAMS.jobs, SUBJECTS.job(model), delivered + 1) : []),
    ...(
      await Promise.all(
        [...lanes.keys()].map((lane) => oldest(STREAMS.backlog, SUBJECTS.backlog(model, lane), 0)),
      )
    ).flat(),
  ];
  const oldestQueuedAt = times.length === 0 ? null : Math.min(...times);
  return { model, queued: queued + backlog, backlog, lanes: lanes.size, running, oldestQueuedAt, workers };
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
  const backlog = await backlogLanes(jsm);
  const models = [...new Set([...served.keys(), ...stored.keys(), ...backlog.keys()])].sort();
  const queues = await Promise.all(
    models.map((model) =>
      modelQueue(
        jsm,
        model,
        stored.get(model) ?? 0,
        backlog.get(model) ?? new Map<string, number>(),
        served.get(model) ?? 0,
      ),
    ),
  );
  return { at: now, workers, queues, deadLetters: await recentDeadLetters(jsm, recentDeadLetterCount) };
}
