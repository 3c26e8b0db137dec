/**
 * Fair scheduling between requesters. Jobs wait in the backlog stream, one subject per model and
 * lane (a guild, all direct messages, all CLI jobs); the dispatcher keeps each model's jobs work
 * queue just full enough for the workers' free slots plus one job (one per 32 slots: taken by the
 * next slots that free up), taking the next job from the lanes in turn. A guild that floods the queue therefore only
 * delays its own jobs. The free slots are the pull requests waiting on the model's consumer: every
 * idle slot keeps one open.
 *
 * Every bot replica (and the CLI, while it waits) runs one. They share the round-robin cursor in
 * KV (compare-and-set, one write for all the turns a pass takes). Moving a job is
 * publish-then-delete: the publish carries the job id as Nats-Msg-Id, so two dispatchers moving
 * the same job, or a crash between the two steps, queue it once; the delete is by sequence, and
 * deleting a sequence someone else deleted is harmless. A pass moves its jobs together (their
 * publishes are sent in turn order on one connection, so the work queue keeps that order).
 *
 * A job submitted while its model's backlog is empty and its work queue has room skips the backlog
 * (see offer): no other lane waits, so going straight to the work queue is what its turn would do.
 */
import type {
  JetStreamClient,
  JetStreamManager,
  JetStreamPublishOptions,
  PubAck,
  StoredMsg,
} from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';
import { STATE_REVISION_HEADER, STREAMS, SUBJECTS } from '../names.js';
import { compareAndSet, ContentionError, readEntry, type KnownValue } from './cas.js';
import { queueTarget, roomFor, takeTurns, type QueueState } from './dispatch-rotation.js';
import { removeFromBacklog, type MovedJob } from './backlog-removal.js';
import { watchSlotsFreeing, type SlotWatch } from './dispatch-wakeups.js';
import { natsFailure } from './errors.js';
import type { JobStateStore } from './kv.js';
import { backlogLanes, readQueue, type LaneCounts } from './queue-reads.js';
import { SubmittedNotes } from './submitted-notes.js';

export interface FairDispatcherOptions {
  connection: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The bucket holding each model's round-robin cursor (the lane served last). */
  cursors: KV;
  /** Job states, read as jobs move so each carries its queued state's revision. */
  jobStates: JobStateStore;
  /** How often to look without being asked (worker slots free up without a message to us). */
  intervalMs?: number;
  logger?: Logger;
}

const DEFAULT_INTERVAL_MS = 500;
const MAX_CURSOR_ATTEMPTS = 10;
/** A job in the backlog, as the dispatcher moves it: its sequence there, its message and id. */
export interface BacklogJob extends MovedJob {
  data: Uint8Array;
}

function backlogJob(stored: StoredMsg): BacklogJob {
  return { seq: stored.seq, data: stored.data, jobId: stored.header.get('Nats-Msg-Id') };
}

/** A job offered to the next pass for the work queue (see FairDispatcher.offer). */
export interface Offer {
  model: string;
  lane: string;
  job: BacklogJob;
  /** The submitter's checks; a job they refuse is not queued. */
  admitted: Promise<void>;
  /**
   * Called before the job is published to the work queue: records its state, and tells the
   * revision written (null: none), which the job carries so its worker need not read the state.
   */
  queueing: () => Promise<number | null>;
}

interface Arrival extends Offer {
  /** Called once: the work queue's acknowledgement, or null when the job goes to the backlog. */
  settle: (queued: PubAck | null) => void;
}

export class FairDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private wakeups: SlotWatch | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** The cursor each model had after this process's last write (its next write skips the read). */
  private readonly cursors = new Map<string, KnownValue<string | undefined>>();
  /** Jobs this process just submitted (see noteSubmitted). */
  private readonly submitted = new SubmittedNotes();
  /** The last pass left no job it found waiting in the backlog. */
  private backlogSeenEmpty = false;
  /** Models whose backlog had jobs at the last pass, or that a job was just submitted for. */
  private backlogModels = new Set<string>();
  /** Jobs offered since the last pass began. */
  private arrivals: Arrival[] = [];
  private started = false;
  private stopped = false;

  constructor(private readonly options: FairDispatcherOptions) {}

  /** Dispatches now, then whenever a slot frees up (see watchSlotsFreeing) and on a timer. */
  start(): void {
    const { connection, intervalMs = DEFAULT_INTERVAL_MS, logger } = this.options;
    this.started = true;
    this.wakeups = watchSlotsFreeing(
      connection,
      () => {
        // A freed slot matters only with jobs waiting. A job that came since the last pass left
        // the backlog empty was submitted with a kick of its submitter's dispatcher, which keeps
        // answering while its own pass leaves jobs over (and every timer looks).
        if (!this.backlogSeenEmpty) void this.kick();
      },
      logger,
    );
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
    if (!this.options.connection.isClosed()) this.wakeups?.stop();
  }

  /**
   * Asks for a dispatch pass. Passes never overlap: a request during one runs another after it.
   * Resolves once a pass that began after this call has finished (failures are logged, not thrown).
   * `model`: a model a job was just submitted for, whose queue the pass reads straight away. While
   * that model's work queue is full (see SlotWatch.isFull), it resolves at once without a pass.
   */
  kick(model?: string): Promise<void> {
    if (!this.started || this.stopped || this.options.connection.isClosed()) return Promise.resolve();
    if (model !== undefined) this.backlogModels.add(model);
    if (model !== undefined && this.wakeups?.isFull(model) === true) {
      // Its job waits in the backlog, where the pass of the next slot to ask finds it.
      this.backlogSeenEmpty = false;
      return Promise.resolve();
    }
    this.again = true;
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      // Asked for (an offer, a kick) after the loop's last check but before this ran: pass again.
      if (this.again) void this.kick();
    });
    return this.running;
  }

  /**
   * Offers a job that passes `admitted` to the next pass: when its model's backlog is empty and the
   * work queue has room for every job offered to that pass, the pass publishes it there and writes
   * its lane as the cursor (as its turn would). Resolves with the work queue's acknowledgement, or
   * null when the job is for the backlog (it was not, or may not have been, queued: publishing it
   * to the backlog is safe either way, as the work queue drops a second copy by its id).
   */
  offer(offer: Offer): Promise<PubAck | null> {
    if (!this.started || this.stopped || this.options.connection.isClosed()) return Promise.resolve(null);
    if (this.wakeups?.isFull(offer.model) === true) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.arrivals.push({ ...offer, settle: resolve });
      void this.kick(offer.model);
    });
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
    for (const arrival of this.arrivals.splice(0)) arrival.settle(null);
  }

  /** One pass over every model with a backlog; returns how many jobs were moved. */
  async dispatchOnce(): Promise<number> {
    const arrivals = this.arrivals.splice(0);
    try {
      return await this.pass(arrivals);
    } finally {
      // Whatever the pass did not queue goes to the backlog (settling twice changes nothing).
      for (const arrival of arrivals) arrival.settle(null);
    }
  }

  private async pass(arrivals: readonly Arrival[]): Promise<number> {
    const { jsm } = this.options;
    const mark = this.wakeups?.mark();
    // The work queues of the models that had a backlog (or a job submitted here) are read together
    // with the backlog and the submitters' checks: one round trip's wait instead of two.
    const expected = [...new Set([...this.backlogModels, ...arrivals.map((arrival) => arrival.model)])];
    const [[backlog, ...queues], admissions] = await Promise.all([
      Promise.all([backlogLanes(jsm), ...expected.map((model) => readQueue(jsm, model))]),
      Promise.allSettled(arrivals.map((arrival) => arrival.admitted)),
    ]);
    const queueOf = new Map(expected.map((model, index) => [model, queues[index]]));
    await this.queueArrivals(
      arrivals.filter((_, index) => admissions[index]?.status === 'fulfilled'),
      backlog,
      queueOf,
    );
    this.backlogModels = new Set(backlog.keys());
    let moved = 0;
    const full: string[] = [];
    for (const [model, lanes] of backlog) {
      const queue = queueOf.get(model) ?? (await readQueue(jsm, model));
      const filled = await this.fillModel(model, lanes, queue);
      moved += filled;
      if (lanes.size > 0 && filled >= queueTarget(queue) - queue.pending) full.push(model);
    }
    this.wakeups?.found(mark, full);
    // Every job the pass found was moved (fillModel takes them out of `lanes`).
    this.backlogSeenEmpty = [...backlog.values()].every((lanes) => lanes.size === 0);
    return moved;
  }

  /** Publishes the arrivals of each model that the work queue takes at once (see offer). */
  private async queueArrivals(
    arrivals: readonly Arrival[],
    backlog: ReadonlyMap<string, LaneCounts>,
    queueOf: ReadonlyMap<string, QueueState | undefined>,
  ): Promise<void> {
    const byModel = new Map<string, Arrival[]>();
    for (const arrival of arrivals)
      byModel.set(arrival.model, [...(byModel.get(arrival.model) ?? []), arrival]);
    await Promise.all(
      [...byModel].map(async ([model, group]) => {
        const queue = queueOf.get(model);
        const waiting = backlog.get(model)?.size ?? 0;
        if (queue === undefined || !roomFor(group.length, queue, waiting)) return;
        queue.pending += group.length;
        const last = group.at(-1)?.lane ?? '';
        // The cursor moves to the lane served, as its turn would move it (unless this process
        // last left it there): the next lanes to wait are served after it.
        const turn =
          this.cursors.get(model)?.value === last
            ? undefined
            : this.takeSharedTurns(model, new Map([[last, 1]]), 1).catch((error: unknown) => {
                this.options.logger?.warn(
                  { err: error, model, next: 'the next pass' },
                  LOG_EVENTS.dispatch.failed,
                );
              });
        await Promise.all([
          ...group.map(async ({ job, queueing, settle }) => {
            // A state that could not be written is the submitter's to report; the worker reads it.
            const revision = await queueing().catch(() => null);
            settle(await this.publishJob(model, job, revision).catch(() => null));
          }),
          turn,
        ]);
      }),
    );
  }

  /**
   * Gives every idle slot asking for one of the model's jobs a job, and keeps one more (one per
   * SLOTS_PER_QUEUED_JOB slots) waiting for the next slots that free up, in turns of the lanes.
   */
  private async fillModel(model: string, lanes: LaneCounts, queue: QueueState): Promise<number> {
    let wanted = queueTarget(queue) - queue.pending;
    let moved = 0;
    while (wanted > 0 && lanes.size > 0) {
      const taking = this.takeSharedTurns(model, new Map(lanes), wanted);
      // Awaited below; a move that fails first must not leave its rejection unhandled.
      taking.catch(() => undefined);
      // With one lane waiting the turns are its own whatever the cursor says: the cursor is
      // written while the jobs move, not before.
      const turns = lanes.size === 1 ? takeTurns(lanes, undefined, wanted) : await taking;
      const jobs = turns.length === 0 ? [] : await this.oldestJobs(model, turns, lanes);
      if (jobs.length > 0) await this.moveAll(model, jobs);
      await taking;
      if (turns.length === 0) break;
      // Lanes found empty were dropped from `lanes`, so the loop ends.
      moved += jobs.length;
      wanted -= jobs.length;
    }
    return moved;
  }

  /** The lane the rotation served last for `model` (undefined before the first dispatch). */
  async lastServedLane(model: string): Promise<string | undefined> {
    const entry = await readEntry(this.options.cursors, model, `the dispatch cursor of model ${model}`);
    return entry?.operation === 'PUT' ? entry.string() : undefined;
  }

  /**
   * Takes the next `count` turns after the shared cursor's lane, compare-and-set so replicas share
   * one rotation. The cursor this process wrote last is assumed current: a replica that moved it
   * since makes the write fail, and the turns are taken again from what it wrote.
   */
  private async takeSharedTurns(model: string, lanes: LaneCounts, count: number): Promise<string[]> {
    let turns: string[] = [];
    try {
      const known = this.cursors.get(model);
      const { after, written, revision } = await compareAndSet<string | undefined, string>(
        this.options.cursors,
        model,
        {
          what: `the dispatch cursor of model ${model}`,
          read: (entry) => entry?.string(),
          change: (last) => {
            turns = takeTurns(lanes, last, count);
            return turns.at(-1);
          },
          encode: (lane) => new TextEncoder().encode(lane),
          maxAttempts: MAX_CURSOR_ATTEMPTS,
          ...(known === undefined ? {} : { known }),
        },
      );
      if (!written) return [];
      if (revision !== null) this.cursors.set(model, { value: after, revision });
      return turns;
    } catch (error) {
      this.cursors.delete(model);
      // Other replicas keep winning the race: they are dispatching, so this pass can stop.
      if (error instanceof ContentionError) return [];
      throw error;
    }
  }

  /**
   * The oldest jobs of the lanes, one per turn, in turn order (read together, a lane's own jobs
   * one after another). A lane found emptier than counted (another dispatcher moved its jobs) is
   * dropped from `lanes`; the counts of the others go down by the jobs taken.
   */
  private async oldestJobs(
    model: string,
    turns: readonly string[],
    lanes: LaneCounts,
  ): Promise<BacklogJob[]> {
    const perLane = new Map<string, number>();
    for (const lane of turns) perLane.set(lane, (perLane.get(lane) ?? 0) + 1);
    const found = new Map<string, BacklogJob[]>();
    await Promise.all(
      [...perLane].map(async ([lane, count]) => {
        const jobs: BacklogJob[] = [];
        const submitted = lanes.get(lane) === 1 ? this.submitted.take(model, lane) : undefined;
        if (submitted !== undefined) jobs.push(submitted);
        let after = 0;
        while (jobs.length < count) {
          const next = await this.oldestOf(model, lane, after);
          if (next === null) break;
          jobs.push(next);
          after = next.seq;
        }
        found.set(lane, jobs);
        const left = (lanes.get(lane) ?? 0) - jobs.length;
        if (jobs.length < count || left <= 0) lanes.delete(lane);
        else lanes.set(lane, left);
      }),
    );
    return turns.flatMap((lane) => {
      const next = found.get(lane)?.shift();
      return next === undefined ? [] : [next];
    });
  }

  /** Remembers a job this process just put in the backlog (see SubmittedNotes). */
  noteSubmitted(model: string, lane: string, job: BacklogJob): void {
    this.submitted.note(model, lane, job);
  }

  private async oldestOf(model: string, lane: string, after: number): Promise<BacklogJob | null> {
    let stored: StoredMsg | null;
    try {
      stored = await this.options.jsm.direct.getMessage(STREAMS.backlog, {
        next_by_subj: SUBJECTS.backlog(model, lane),
        seq: after + 1,
      });
    } catch (error) {
      throw natsFailure(error, `reading the backlog of model ${model}`);
    }
    return stored === null ? null : { ...backlogJob(stored), head: SUBJECTS.backlog(model, lane) };
  }

  /**
   * Moves one stored backlog message into the model's work queue. Also used to hurry a cancelled
   * job there, where a worker publishes its CANCELLED outcome (only workers may publish outcomes).
   */
  async move(model: string, stored: StoredMsg): Promise<void> {
    await this.moveAll(model, [backlogJob(stored)]);
  }

  /**
   * Publishes a job to the model's work queue; its id makes a second copy a duplicate. With the
   * revision of the queued state written for it (STATE_REVISION_HEADER).
   */
  private async publishJob(
    model: string,
    { jobId, data }: BacklogJob,
    stateRevision: number | null = null,
  ): Promise<PubAck> {
    const options: Partial<JetStreamPublishOptions> = jobId === '' ? {} : { msgID: jobId };
    if (stateRevision !== null) {
      options.headers = headers();
      options.headers.set(STATE_REVISION_HEADER, String(stateRevision));
    }
    try {
      return await this.options.js.publish(SUBJECTS.job(model), data, options);
    } catch (error) {
      throw natsFailure(error, `queueing job ${jobId} for the workers`);
    }
  }

  /**
   * Publishes the jobs to the work queue in order, each with the revision of its queued state
   * (see JobStateStore.queuedRevision), then takes those that were stored out of the backlog (see
   * removeFromBacklog); the first failure is thrown once every job is settled.
   */
  private async moveAll(model: string, jobs: readonly BacklogJob[]): Promise<void> {
    const { jsm, logger } = this.options;
    // Read together, while the workers are busy, instead of by each worker between two jobs.
    const revisions = await Promise.all(jobs.map((job) => this.options.jobStates.queuedRevision(job.jobId)));
    const published = await Promise.allSettled(
      jobs.map((job, index) => this.publishJob(model, job, revisions[index] ?? null)),
    );
    const [removed] = await Promise.allSettled([
      removeFromBacklog(
        jsm,
        jobs,
        published.map((result) => result.status === 'fulfilled'),
      ),
    ]);
    published.forEach((result, index) => {
      if (result.status === 'fulfilled')
        logger?.debug(
          { jobId: jobs[index]?.jobId, model, seq: result.value.seq, duplicate: result.value.duplicate },
          LOG_EVENTS.job.dispatched,
        );
    });
    const failure = [...published, removed].find((result) => result.status === 'rejected');
    if (failure?.status === 'rejected') throw failure.reason;
  }
}
