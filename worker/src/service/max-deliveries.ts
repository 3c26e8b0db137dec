/**
 * Jobs that exhaust MaxDeliver (their workers kept dying or timing out) stay in the work queue and
 * would block nothing but never finish. The server announces each with an advisory; exactly one
 * worker (queue group) fetches the job by stream sequence, dead-letters it, removes it from the
 * queue and tells the requester it failed.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  ADVISORY_QUEUE_GROUP,
  STREAMS,
  SUBJECTS,
  isMissingResource,
  jobSchema,
  maxDeliveriesAdvisorySubject,
  natsFailure,
  type Logger,
} from '@sdbot/shared';
import { z } from 'zod';
import { jobIdOf } from './dead-letters.js';
import type { FailurePolicy } from './failure-policy.js';

const advisorySchema = z.object({
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().nonnegative(),
});

export interface MaxDeliveriesHandlerOptions {
  connection: NatsConnection;
  jsm: JetStreamManager;
  /** Gives the job up the way every other failing path does. */
  policy: FailurePolicy;
  logger: Logger;
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
          options.logger.error({ err: failure, seq: parsed.data.stream_seq }, 'job:dead-letter-failed');
        });
        this.pending.add(work);
        void work.finally(() => this.pending.delete(work));
      },
    });
  }

  /** Dead-letters the job at `seq` unless another worker already did. */
  async handle(seq: number, deliveries: number): Promise<void> {
    const { jsm, policy, logger } = this.options;
    let stored;
    try {
      stored = await policy.bounded(`reading job #${seq}`, () =>
        jsm.streams.getMessage(STREAMS.jobs, { seq }),
      );
    } catch (error) {
      if (isMissingResource(error)) return;
      throw natsFailure(error, `reading job #${seq}`);
    }
    if (stored === null) return;
    const model = stored.subject.slice(jobSubjectPrefix.length);
    const jobId = jobIdOf(stored.data, stored.header.get('Nats-Msg-Id') || undefined);
    const reason = `delivered ${deliveries} times without being acknowledged (its workers died or stalled)`;
    const parsedJob = jobSchema.safeParse(safeJson(stored.data));
    await policy.giveUp(
      {
        model,
        jobId,
        job: parsedJob.success ? parsedJob.data : undefined,
        queued: { subject: stored.subject, data: stored.data, deliveries, streamSeq: seq },
        // Without a valid job there is no state to create.
        markFailed: parsedJob.success ? undefined : () => Promise.resolve(),
        remove: async () => {
          try {
            await policy.bounded(`removing job #${seq}`, () =>
              jsm.streams.deleteMessage(STREAMS.jobs, seq, false),
            );
          } catch (error) {
            // Another worker removed it first.
            logger.debug({ err: error, seq }, 'job:already-removed');
          }
        },
      },
      'MAX_DELIVERIES_EXCEEDED',
      reason,
    );
    logger.warn({ jobId, seq, deliveries, code: 'MAX_DELIVERIES_EXCEEDED' }, 'job:dead-lettered');
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
