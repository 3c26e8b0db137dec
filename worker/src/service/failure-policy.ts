/**
 * What happens to a job that did not complete, decided in one place for every failing path: a
 * cancellation is acknowledged, a shutdown hands the job back, a passing failure is retried after a
 * growing delay, and everything else gives the job up: dead letter, failed state, failure outcome,
 * out of the queue (in that order, so a crash between steps leaves the job to be given up again).
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import {
  isTerminalStatus,
  CancelledError,
  type Config,
  type ErrorCode,
  type Job,
  type JobStateStore,
  type JobOutcome,
  type JobStatus,
  type Logger,
  type SdbotError,
} from '@sdbot/shared';
import { publishDeadLetter } from './dead-letters.js';
import { classifyFailure } from './failure-kinds.js';
import { withDeadline, type JobDeadline } from './deadline.js';
import type { JobStateTracker } from './job-state-tracker.js';
import type { JobEndedEvent, JobEvents } from './job-events.js';
import type { WorkerMetrics } from './metrics.js';
import { failureOutcome, finalStatusOf, type OutcomePublisher } from './outcomes.js';

/** Longest delay before a retryable failure is offered again. */
const MAX_RETRY_DELAY_MS = 5 * 60_000;
const STATE_MESSAGE_MAX_CHARS = 2000;

type FailedStatus = Extract<JobStatus, { state: 'failed' }>;

/** A job message leaving the queue for good. */
export interface GivenUpJob {
  /** Model of the consumer the message came from. */
  model: string;
  jobId: string | null;
  /** The job, when its message was valid: its state is created if it has none yet. */
  job?: Job | undefined;
  /** The message as it was queued, copied into the dead letter. */
  queued: { subject: string; data: Uint8Array; deliveries: number; streamSeq: number };
  /** Writes the failed state; by default the stored record moves to failed unless it already ended. */
  markFailed?: ((status: FailedStatus) => Promise<unknown>) | undefined;
  /** Takes the message out of the work queue (terminate it, or delete it by sequence). */
  remove: () => Promise<void> | void;
}

/** A job this worker took and ran. */
export interface RunningDelivery {
  message: JsMsg;
  job: Job;
  state: JobStateTracker;
  log: Logger;
}

/** Bounds every write that records how a job ended (the job's own signal may have fired already). */
export type SettleDeadline = JobDeadline;

export interface FailurePolicyDeps {
  js: JetStreamClient;
  jobStates: JobStateStore;
  outcomes: OutcomePublisher;
  config: Config;
  workerId: string;
  logger: Logger;
  metrics?: WorkerMetrics | undefined;
  events: JobEvents;
  /** Bounds each write that records a failure; its signal fires when the worker must stop now. */
  settle: SettleDeadline;
}

export class FailurePolicy {
  constructor(private readonly deps: FailurePolicyDeps) {}

  /** `work` within one operation's deadline, given up at once when the worker must stop now. */
  bounded<T>(what: string, work: () => Promise<T>): Promise<T> {
    return withDeadline(what, this.deps.settle, work);
  }

  private publishOutcome(outcome: JobOutcome): Promise<void> {
    return this.bounded(`publishing the outcome of job ${outcome.jobId}`, () =>
      this.deps.outcomes.publish(outcome),
    );
  }

  /** Exponential from SDBOT_RETRY_DELAY, capped. */
  retryDelay(deliveries: number): number {
    return Math.min(
      this.deps.config.jetstream.retryDelayMs * 2 ** Math.max(0, deliveries - 1),
      MAX_RETRY_DELAY_MS,
    );
  }

  /** Tells the listeners (metrics among them) how a delivery ended. */
  ended(event: JobEndedEvent): void {
    this.deps.events.emit('job:ended', event);
  }

  /**
   * A delivery of a job that another delivery already finished (one redelivered while the first
   * still ran, after an outage): that outcome stands, a state left short of it is moved to it, and
   * this delivery is acknowledged.
   */
  async duplicate({ message, job, state, log }: RunningDelivery, outcome: JobOutcome): Promise<void> {
    await state
      .transition(
        finalStatusOf(outcome),
        { allow: (current) => !isTerminalStatus(current.status) },
        this.deps.settle,
      )
      .catch((error: unknown) => {
        log.warn({ err: error, reason: 'the job already has an outcome' }, 'job:state-write-failed');
      });
    log.info({ reason: 'the job already has an outcome' }, 'job:duplicate');
    message.ack();
    this.ended({ jobId: job.id, model: job.model, outcome: 'duplicate' });
  }

  /** The job's outcome, or null when it has none or the lookup fails (the caller goes on). */
  private async outcomeOf(jobId: string): Promise<JobOutcome | null> {
    return this.bounded(`looking up the outcome of job ${jobId}`, () => this.deps.outcomes.find(jobId)).catch(
      () => null,
    );
  }

  /** A job that ran and failed (or was cancelled, or stopped by a shutdown). */
  async failed(delivery: RunningDelivery, error: unknown): Promise<void> {
    const { message, job, state, log } = delivery;
    const { workerId, config } = this.deps;
    const failure = classifyFailure(error);
    const deliveries = message.info.deliveryCount;
    const now = Date.now();
    if (failure instanceof CancelledError || failure.code === 'CANCELLED') {
      const requestedBy = failure instanceof CancelledError ? failure.cancelledBy : 'unknown';
      const change = await state.transition(
        { state: 'cancelled', cancelledBy: requestedBy.slice(0, 64) || 'unknown', cancelledAt: now },
        {},
        this.deps.settle,
      );
      const status = change.record?.status;
      const text = status?.state === 'cancelled' ? `cancelled by ${status.cancelledBy}` : failure.message;
      await this.publishOutcome(failureOutcome(job.id, 'CANCELLED', text, false, workerId));
      message.ack();
      this.ended({ jobId: job.id, model: job.model, outcome: 'cancelled', code: 'CANCELLED' });
      log.info('job:cancelled');
      return;
    }
    // Handing the job back or retrying it would leave it queued when another delivery finished it.
    const retried =
      failure.code === 'WORKER_SHUTDOWN' || (failure.retryable && deliveries < config.jetstream.maxDeliver);
    const finished = retried ? await this.outcomeOf(job.id) : null;
    if (finished !== null) {
      await this.duplicate(delivery, finished);
      return;
    }
    if (failure.code === 'WORKER_SHUTDOWN') {
      try {
        await state.transition({ state: 'queued' }, { now }, this.deps.settle);
      } catch (error) {
        // Handed back all the same (NATS slow or gone): the next worker's progress overwrites
        // the stale state, and the job starts at once instead of after the ack wait.
        log.warn({ err: error, reason: 'could not mark the job queued' }, 'job:state-write-failed');
      }
      message.nak();
      this.ended({ jobId: job.id, model: job.model, outcome: 'released', code: failure.code });
      log.info({ reason: 'worker shutting down' }, 'job:released');
      return;
    }
    if (failure.retryable && deliveries < config.jetstream.maxDeliver) {
      const delay = this.retryDelay(deliveries);
      await state.transition({ state: 'queued' }, { now }, this.deps.settle);
      message.nak(delay);
      this.ended({ jobId: job.id, model: job.model, outcome: 'retried', code: failure.code });
      log.warn({ err: failure, retryInMs: delay }, 'job:retrying');
      return;
    }
    const code = failure.retryable ? 'MAX_DELIVERIES_EXCEEDED' : failure.code;
    const reason = failure.retryable
      ? `failed on all ${deliveries} deliveries; last error [${failure.code}]: ${failure.message}`
      : failure.message;
    await this.giveUp(
      {
        model: job.model,
        jobId: job.id,
        job,
        queued: queuedOf(message),
        markFailed: (status) => state.transition(status, { now: status.failedAt }, this.deps.settle),
        // No reason argument: nats-server 2.9 does not recognise `+TERM <reason>` and leaves the job pending.
        remove: () => {
          message.term();
        },
      },
      code,
      reason,
    );
    this.ended({ jobId: job.id, model: job.model, outcome: 'failed', code });
    log.warn({ err: failure, code }, 'job:failed');
  }

  /**
   * A job this worker could not even run (NATS went away mid-job): it comes back after the delay,
   * or after the ack wait if the nak is lost too.
   */
  interrupted(message: JsMsg, model: string, log: Logger, error: unknown): void {
    log.error({ err: error }, 'job:interrupted');
    message.nak(this.retryDelay(message.info.deliveryCount));
    this.ended({ jobId: null, model, outcome: 'retried' });
  }

  /** An unreadable or invalid job: dead-letter it, tell its requester if we know who, drop it. */
  async rejected(message: JsMsg, model: string, failure: SdbotError, jobId: string | null): Promise<void> {
    const { logger } = this.deps;
    try {
      await this.giveUp(
        {
          model,
          jobId,
          queued: queuedOf(message),
          remove: () => {
            message.term();
          },
        },
        failure.code,
        failure.message,
      );
      this.ended({ jobId, model, outcome: 'dead_lettered', code: failure.code });
      logger.warn({ jobId, model, code: failure.code, reason: failure.message }, 'job:rejected');
    } catch (error) {
      logger.error(
        { err: error, jobId, reason: 'could not dead-letter an invalid job; it will be redelivered' },
        'job:reject-failed',
      );
      message.nak(this.retryDelay(message.info.deliveryCount));
    }
  }

  /** Dead letter, failed state, failure outcome, out of the queue. */
  async giveUp(target: GivenUpJob, code: ErrorCode, reason: string): Promise<void> {
    const { js, workerId, metrics } = this.deps;
    const { queued, jobId } = target;
    await this.bounded(`dead-lettering job ${jobId ?? `#${queued.streamSeq}`}`, () =>
      publishDeadLetter(js, {
        subject: queued.subject,
        model: target.model,
        data: queued.data,
        jobId,
        code,
        reason,
        deliveries: queued.deliveries,
        streamSeq: queued.streamSeq,
        workerId,
      }),
    );
    metrics?.deadLetters.inc({ code });
    if (jobId !== null) {
      const failedAt = Date.now();
      const status: FailedStatus = {
        state: 'failed',
        code,
        message: reason.slice(0, STATE_MESSAGE_MAX_CHARS),
        failedAt,
      };
      await (target.markFailed ?? ((failed) => this.markFailed(jobId, target.job, failed)))(status);
      await this.publishOutcome(failureOutcome(jobId, code, reason, false, workerId));
    }
    await target.remove();
  }

  /** Moves the stored state to failed unless it already ended; creates it from `job` if missing. */
  private async markFailed(jobId: string, job: Job | undefined, status: FailedStatus): Promise<void> {
    const { jobStates } = this.deps;
    await this.bounded(`writing the state of job ${jobId}`, () =>
      job !== undefined
        ? jobStates.transition(job, status, { now: status.failedAt })
        : jobStates.update(jobId, (current) =>
            current === null || isTerminalStatus(current.status)
              ? undefined
              : { ...current, status, updatedAt: status.failedAt },
          ),
    );
  }
}

function queuedOf(message: JsMsg): GivenUpJob['queued'] {
  return {
    subject: message.subject,
    data: message.data,
    deliveries: message.info.deliveryCount,
    streamSeq: message.seq,
  };
}
