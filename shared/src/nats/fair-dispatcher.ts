/**
 * Fair scheduling between requesters. Jobs wait in the backlog stream, one subject per model and
 * lane (a guild, all direct messages, all CLI jobs); the dispatcher keeps each model's jobs work
 * queue just full enough for the workers' free slots (at least one job), taking the next job from
 * the lanes in turn. A guild that floods the queue therefore only delays its own jobs.
 *
 * Every bot replica (and the CLI, while it waits) runs one. They share the round-robin cursor in
 * KV (compare-and-set). Moving a job is publish-then-delete: the publish carries the job id as
 * Nats-Msg-Id, so two dispatchers moving the same job, or a crash between the two steps, queue it
 * once; the delete is by sequence, and deleting a sequence someone else deleted is harmless.
 */
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { LIMITS } from '../limits.js';
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';
import { STREAMS, SUBJECTS, jobConsumerName } from '../names.js';
import type { WorkerHeartbeat } from '../protocol/worker.js';
import { compareAndSet, ContentionError, readEntry } from './cas.js';
import { isMissingResource, natsFailure } from './errors.js';
import type { WorkerRegistry } from './kv.js';

export interface FairDispatcherOptions {
  connection: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  workers: WorkerRegistry;
  /** The bucket holding each model's round-robin cursor (the lane served last). */
  cursors: KV;
  /** How often to look without being asked (worker slots free up without a message to us). */
  intervalMs?: number;
  logger?: Logger;
}

/** Jobs waiting in each lane of one model's backlog. */
export type LaneCounts = Map<string, number>;

const DEFAULT_INTERVAL_MS = 500;
const MAX_CURSOR_ATTEMPTS = 10;
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

/** Jobs in a model's work queue that no worker has taken yet. */
export async function readyPending(jsm: JetStreamManager, model: string): Promise<number> {
  try {
    return (await jsm.consumers.info(STREAMS.jobs, jobConsumerName(model))).num_pending;
  } catch (error) {
    if (!isMissingResource(error)) throw natsFailure(error, `reading the job queue of model ${model}`);
  }
  // No worker ever served the model: everything stored is waiting.
  const subject = SUBJECTS.job(model);
  try {
    return (
      (await jsm.streams.info(STREAMS.jobs, { subjects_filter: subject })).state.subjects?.[subject] ?? 0
    );
  } catch (error) {
    throw natsFailure(error, `reading the job queue of model ${model}`);
  }
}

/** The lane after `last` in a sorted rotation of `lanes` (the first one when `last` is the end). */
export function nextLane(lanes: readonly string[], last: string | undefined): string | undefined {
  const sorted = [...lanes].sort();
  return (last === undefined ? undefined : sorted.find((lane) => lane > last)) ?? sorted[0];
}

/**
 * Estimated jobs of other lanes dispatched before the job at `index` (0: oldest) of `lane`: the
 * rotation goes on from the lane after `lastLane`, so a lane that comes before `lane` in it gets
 * index + 1 turns first and one after it index turns, each capped at the jobs it has waiting. An
 * estimate: lanes that fill up or empty meanwhile change it.
 */
export function estimateBacklogAhead(
  lanes: ReadonlyMap<string, number>,
  lane: string,
  index: number,
  lastLane: string | undefined,
): number {
  const sorted = [...new Set([...lanes.keys(), lane])].sort();
  const first = nextLane(sorted, lastLane);
  const start = first === undefined ? 0 : sorted.indexOf(first);
  const rotation = [...sorted.slice(start), ...sorted.slice(0, start)];
  const mine = rotation.indexOf(lane);
  return rotation.reduce((sum, other, position) => {
    if (other === lane) return sum;
    const turns = position < mine ? index + 1 : index;
    return sum + Math.min(lanes.get(other) ?? 0, turns);
  }, 0);
}

/** How many jobs may wait in a model's work queue: the free slots of its live workers, at least 1. */
function readyTarget(workers: readonly WorkerHeartbeat[], model: string): number {
  const free = workers
    .filter((worker) => worker.models.some((served) => served.id === model))
    .reduce((sum, worker) => sum + worker.slots.free, 0);
  return Math.max(1, free);
}

export class FairDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private results: Subscription | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private started = false;
  private stopped = false;

  constructor(private readonly options: FairDispatcherOptions) {}

  /** Dispatches now, then on every outcome (a slot freed up) and on a timer. */
  start(): void {
    const { connection, intervalMs = DEFAULT_INTERVAL_MS } = this.options;
    this.started = true;
    this.results = connection.subscribe(SUBJECTS.resultsAll, {
      callback: () => {
        void this.kick();
      },
    });
    this.timer = setInterval(() => {
      void this.kick();
    }, intervalMs);
    // Never the reason a CLI process stays alive.
    this.timer.unref();
    void connection.closed().then(() => {
      this.stop();
    });
    void this.kick();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    if (!this.options.connection.isClosed()) this.results?.unsubscribe();
  }

  /**
   * Asks for a dispatch pass. Passes never overlap: a request during one runs another after it.
   * Resolves once a pass that began after this call has finished (failures are logged, not thrown).
   */
  kick(): Promise<void> {
    if (!this.started || this.stopped || this.options.connection.isClosed()) return Promise.resolve();
    this.again = true;
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    while (this.again && !this.stopped && !this.options.connection.isClosed()) {
      this.again = false;
      try {
        await this.dispatchOnce();
      } catch (error) {
        this.options.logger?.warn({ err: error, next: 'retry on the next turn' }, LOG_EVENTS.dispatch.failed);
      }
    }
  }

  /** One pass over every model with a backlog; returns how many jobs were moved. */
  async dispatchOnce(): Promise<number> {
    const backlog = await backlogLanes(this.options.jsm);
    if (backlog.size === 0) return 0;
    const workers = await this.options.workers.list();
    let moved = 0;
    for (const [model, lanes] of backlog) moved += await this.fillModel(model, lanes, workers);
    return moved;
  }

  private async fillModel(
    model: string,
    lanes: LaneCounts,
    workers: readonly WorkerHeartbeat[],
  ): Promise<number> {
    const target = readyTarget(workers, model);
    let moved = 0;
    while (lanes.size > 0 && (await readyPending(this.options.jsm, model)) < target) {
      const lane = await this.advanceCursor(model, [...lanes.keys()]);
      if (lane === undefined) break;
      const oldest = await this.oldestOf(model, lane);
      if (oldest === null) {
        lanes.delete(lane);
        continue;
      }
      await this.move(model, oldest);
      moved += 1;
      const left = (lanes.get(lane) ?? 1) - 1;
      if (left > 0) lanes.set(lane, left);
      else lanes.delete(lane);
    }
    return moved;
  }

  /** The lane the rotation served last for `model` (undefined before the first dispatch). */
  async lastServedLane(model: string): Promise<string | undefined> {
    const entry = await readEntry(this.options.cursors, model, `the dispatch cursor of model ${model}`);
    return entry?.operation === 'PUT' ? entry.string() : undefined;
  }

  /** Takes the turn after the shared cursor's lane, compare-and-set so replicas share one rotation. */
  private async advanceCursor(model: string, lanes: readonly string[]): Promise<string | undefined> {
    try {
      const { after, written } = await compareAndSet<string | undefined, string>(
        this.options.cursors,
        model,
        {
          what: `the dispatch cursor of model ${model}`,
          read: (entry) => entry?.string(),
          change: (last) => nextLane(lanes, last),
          encode: (lane) => new TextEncoder().encode(lane),
          maxAttempts: MAX_CURSOR_ATTEMPTS,
        },
      );
      return written ? after : undefined;
    } catch (error) {
      // Other replicas keep winning the race: they are dispatching, so this pass can stop.
      if (error instanceof ContentionError) return undefined;
      throw error;
    }
  }

  private async oldestOf(model: string, lane: string): Promise<StoredMsg | null> {
    try {
      return await this.options.jsm.direct.getMessage(STREAMS.backlog, {
        next_by_subj: SUBJECTS.backlog(model, lane),
        seq: 0,
      });
    } catch (error) {
      throw natsFailure(error, `reading the backlog of model ${model}`);
    }
  }

  /**
   * Moves one stored backlog message into the model's work queue. Also used to hurry a cancelled
   * job there, where a worker publishes its CANCELLED outcome (only workers may publish outcomes).
   */
  async move(model: string, stored: StoredMsg): Promise<void> {
    const { js, jsm, logger } = this.options;
    const jobId = stored.header.get('Nats-Msg-Id');
    let ack;
    try {
      ack = await js.publish(SUBJECTS.job(model), stored.data, jobId === '' ? {} : { msgID: jobId });
    } catch (error) {
      throw natsFailure(error, `moving job ${jobId} to the work queue`);
    }
    try {
      await jsm.streams.deleteMessage(STREAMS.backlog, stored.seq, false);
    } catch (error) {
      // Another dispatcher moved and deleted it first: the msgID made our publish a duplicate.
      if (!(error instanceof Error && /no message found|not found/i.test(error.message))) {
        throw natsFailure(error, `removing job ${jobId} from the backlog`);
      }
    }
    logger?.debug({ jobId, model, seq: ack.seq, duplicate: ack.duplicate }, LOG_EVENTS.job.dispatched);
  }
}
