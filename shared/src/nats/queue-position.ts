/**
 * Where a waiting job stands in its model's queue, for the requester's "n jobs ahead" line: in the
 * backlog (its lane's turn among the other lanes) or in the work queue the dispatcher fills.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../logger.js';
import { STREAMS, SUBJECTS, jobConsumerName, requesterLane } from '../names.js';
import type { Job } from '../protocol/job.js';
import type { JobStateRecord } from '../protocol/state.js';
import { isMissingResource } from './errors.js';
import { estimateBacklogAhead } from './dispatch-rotation.js';
import type { FairDispatcher } from './fair-dispatcher.js';
import { backlogLanes, readyPending } from './queue-reads.js';
import { withNatsRetry } from './retry.js';

export interface QueuePosition {
  /**
   * Jobs of the same model that should run before this one. Exact in the work queue; in the
   * backlog an estimate of the round-robin between lanes (other lanes keep submitting).
   */
  ahead: number;
  /** Counting stopped at the limit: at least `ahead` jobs are in front. */
  capped: boolean;
}

export class QueuePositions {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly dispatcher: FairDispatcher,
    private readonly logger: Logger | undefined,
  ) {}

  /**
   * Where a waiting job stands, or null when it is not waiting (running, finished). The
   * cost is a handful of reads however long the queue is (it runs every few seconds for every
   * waiting job): counts come from stream and consumer info, and a job's place among the jobs of
   * its lane from stream sequence numbers. In the backlog: the work queue's waiting jobs, plus the
   * jobs ahead in its own lane, plus an estimate of the other lanes' turns before it (see
   * estimateBacklogAhead). In the work queue (kept short by the dispatcher): the jobs before it.
   */
  async of(record: JobStateRecord, { limit = 100 } = {}): Promise<QueuePosition | null> {
    if (record.status.state !== 'queued') return null;
    const model = record.job.model;
    const position = await withNatsRetry(
      'reading the queue',
      async () => {
        if (record.jobStreamSeq === undefined && record.backlogSeq !== undefined) {
          const inBacklog = await this.backlogPosition(record.job, record.backlogSeq);
          if (inBacklog !== null) return inBacklog;
        }
        // Dispatched: it is in the work queue unless a worker has it.
        return this.readyPosition(model, record.jobStreamSeq);
      },
      this.retryOptions(),
    );
    if (position === null) return null;
    return position >= limit ? { ahead: limit, capped: true } : { ahead: position, capped: false };
  }

  /**
   * Jobs of the model's work queue before the job at sequence `seq` (unknown: the job was moved
   * there by a dispatcher), or null when a worker has it.
   */
  private async readyPosition(model: string, seq: number | undefined): Promise<number | null> {
    let delivered = 0;
    let pending: number;
    try {
      const info = await this.jsm.consumers.info(STREAMS.jobs, jobConsumerName(model));
      delivered = info.delivered.stream_seq;
      pending = info.num_pending;
    } catch (error) {
      if (!isMissingResource(error)) throw error;
      pending = await readyPending(this.jsm, model);
    }
    if (pending === 0 || (seq !== undefined && seq <= delivered)) return null;
    if (seq === undefined) return pending - 1;
    const subject = SUBJECTS.job(model);
    return this.placeAmong(STREAMS.jobs, subject, seq, pending, delivered + 1);
  }

  /** Jobs ahead of the job at backlog sequence `mine`, or null when it left the backlog. */
  private async backlogPosition(job: Job, mine: number): Promise<number | null> {
    const lane = requesterLane(job.requester);
    const laneSubject = SUBJECTS.backlog(job.model, lane);
    const lanes =
      (await backlogLanes(this.jsm, SUBJECTS.backlogModel(job.model))).get(job.model) ??
      new Map<string, number>();
    const count = lanes.get(lane) ?? 0;
    if (count === 0) return null;
    const index = await this.placeAmong(STREAMS.backlog, laneSubject, mine, count, 0);
    if (index === null) return null;
    const others = estimateBacklogAhead(lanes, lane, index, await this.dispatcher.lastServedLane(job.model));
    return (await readyPending(this.jsm, job.model)) + index + others;
  }

  /**
   * The index of the message at sequence `mine` among the `count` messages of `subject` (a FIFO:
   * messages leave from its head), from the first and last sequences alone: exact for the first
   * and the last, interpolated between them (other subjects interleave with this one). Null when
   * `mine` is no longer there.
   */
  private async placeAmong(
    stream: string,
    subject: string,
    mine: number,
    count: number,
    from: number,
  ): Promise<number | null> {
    const first = await this.jsm.direct.getMessage(stream, { next_by_subj: subject, seq: from });
    if (first === null || first.seq > mine) return null;
    if (first.seq === mine || count <= 1) return 0;
    const last = await this.jsm.direct.getMessage(stream, { last_by_subj: subject });
    if (last === null || last.seq < mine) return null;
    if (last.seq === mine) return count - 1;
    return Math.min(
      count - 2,
      Math.max(1, Math.round(((count - 1) * (mine - first.seq)) / (last.seq - first.seq))),
    );
  }

  private retryOptions(): { logger?: Logger } {
    return this.logger === undefined ? {} : { logger: this.logger };
  }
}
