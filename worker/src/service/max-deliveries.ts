/**
 * Jobs that exhaust MaxDeliver (their workers kept dying or timing out) stay in the work queue and
 * would block nothing but never finish. The server announces each with an advisory; exactly one
 * worker (queue group) fetches the job by stream sequence, dead-letters it, removes it from the
 * queue and tells the requester it failed.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  ADVISORY_QUEUE_GROUP,
  LOG_EVENTS,
  STREAMS,
  SUBJECTS,
  isMissingResource,
  jobSchema,
  maxDeliveriesAdvisorySubject,
  natsFailure,
  type JobStateStore,
  type Logger,
} from '@sdbot/shared';
import { z } from 'zod';
import { jobIdOf, publishDeadLetter } from './dead-letters.js';
import type { WorkerMetrics } from './metrics.js';
import { failureOutcome, type OutcomePublisher } from './outcomes.js';

const advisorySchema = z.object({
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().nonnegative(),
});

export interface MaxDeliveriesHandlerOptions {
  connection: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  jobStates: JobStateStore;
  outcomes: OutcomePublisher;
  workerId: string;
  logger: Logger;
  metrics?: WorkerMetrics | undefined;
}

const jobSubjectPrefix = SUBJECTS.jobsAll.slice(0, -1);

export class MaxDeliveriesHandler {
  private readonly subscription: Subscription;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: MaxDeliveriesHandlerOptions) {
    this.subscription = options.connection.subscribe(maxDeliveriesAdvisorySubject(), {
      queue: ADVISORY_QUEUE_GROUP,
      callback: (error, message) => {
        if (error !== null) return;
        const parsed = advisorySchema.safeParse(message.json());
        if (!parsed.success || parsed.data.stream !== STREAMS.jobs) return;
        const work = this.handle(parsed.data.stream_seq, parsed.data.deliveries).catch((failure: unknown) => {
          options.logger.error(
            { err: failure, seq: parsed.data.stream_seq },
            LOG_EVENTS.job.deadLetterFailed,
          );
        });
        this.pending.add(work);
        void work.finally(() => this.pending.delete(work));
      },
    });
  }

  /** Dead-letters the job at `seq` unless another worker already did. */
  async handle(seq: number, deliveries: number): Promise<void> {
    const { js, jsm, jobStates, outcomes, workerId, logger, metrics } = this.options;
    let stored;
    try {
      stored = await jsm.streams.getMessage(STREAMS.jobs, { seq });
    } catch (error) {
      if (isMissingResource(error)) return;
      throw natsFailure(error, `reading job #${seq}`);
    }
    if (stored === null) return;
    const model = stored.subject.slice(jobSubjectPrefix.length);
    const jobId = jobIdOf(stored.data, stored.header.get('Nats-Msg-Id') || undefined);
    const reason = `delivered ${deliveries} times without being acknowledged (its workers died or stalled)`;
    await publishDeadLetter(js, {
      subject: stored.subject,
      model,
      data: stored.data,
      jobId,
      code: 'MAX_DELIVERIES_EXCEEDED',
      reason,
      deliveries,
      streamSeq: seq,
      workerId,
    });
    metrics?.deadLetters.inc({ code: 'MAX_DELIVERIES_EXCEEDED' });
    try {
      await jsm.streams.deleteMessage(STREAMS.jobs, seq, false);
    } catch (error) {
      // Another worker removed it first.
      logger.debug({ err: error, seq }, LOG_EVENTS.job.alreadyRemoved);
    }
    logger.warn({ jobId, seq, deliveries, code: 'MAX_DELIVERIES_EXCEEDED' }, LOG_EVENTS.job.deadLettered);
    if (jobId === null) return;
    const parsedJob = jobSchema.safeParse(safeJson(stored.data));
    const failedAt = Date.now();
    const status = { state: 'failed', code: 'MAX_DELIVERIES_EXCEEDED', message: reason, failedAt } as const;
    if (parsedJob.success) await jobStates.transition(parsedJob.data, status, { now: failedAt });
    await outcomes.publish(failureOutcome(jobId, 'MAX_DELIVERIES_EXCEEDED', reason, false));
  }

  async stop(): Promise<void> {
    this.subscription.unsubscribe();
    await Promise.all(this.pending);
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
