/**
 * Follows one job from submission to its posted outcome. While the job waits or runs, the
 * interaction's reply shows the queue position and then the progress (throttled); when the outcome
 * arrives, a compare-and-set claim in the deliveries bucket decides which bot instance posts it, so
 * it is posted once. The reply is edited while its token works; otherwise the outcome goes to the
 * channel with the bot token.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'discord.js';
import {
  LOG_EVENTS,
  SdbotError,
  SUBJECTS,
  cancelRequestSchema,
  decodeMessage,
  type Job,
  type JobFailure,
  type JobOutcome,
  type JobsClient,
  type Logger,
  type NatsConnection,
  type ObjectRef,
  type Progress,
  type QueuePosition,
} from '@sdbot/shared';
import type { RateLimiter } from '../ratelimit/limiter.js';
import type { GuildSettingsStore } from '../settings/store.js';
import {
  InteractionReply,
  channelPostNonce,
  isPermanentDiscordFailure,
  postToChannel,
} from '../service/discord.js';
import type { BotMetrics, DeliveryRoute } from '../service/metrics.js';
import type { DeliveryRecord } from '@sdbot/shared';
import type { DeliveryStore } from './store.js';
import { ThrottledEditor } from './throttled-editor.js';
import { renderUpscale } from '../upscale/render.js';
import {
  failureView,
  flaggedIntact,
  jobCaption,
  progressView,
  queuedView,
  resultView,
  type OutgoingMessage,
} from './views.js';

export interface TrackerContext {
  jobs: JobsClient;
  deliveries: DeliveryStore;
  limiter: RateLimiter;
  settings: GuildSettingsStore;
  client: Client;
  connection: NatsConnection;
  logger: Logger;
  metrics: BotMetrics;
  instanceId: string;
  now: () => number;
  /** Least time between two progress edits of one message. */
  progressIntervalMs: number;
  /** Give up on a job that has had no outcome for this long (it expired in the queue). */
  outcomeTimeoutMs: number;
}

/** A claim older than this belongs to an instance that died while posting. */
export const CLAIM_LEASE_MS = 60_000;
/** Previews are replaced every few steps; a read that straddles a replacement is given up. */
const PREVIEW_READ_TIMEOUT_MS = 2000;
/** While a job waits, its queue position is refreshed this often. */
const QUEUE_REFRESH_MS = 5000;
/** Posting attempts (discord.js already retries 5xx and 429 within each). */
const MAX_DELIVERY_ATTEMPTS = 8;
const MAX_RETRY_DELAY_MS = 60_000;

type PendingView =
  | { type: 'queued'; position: QueuePosition | null }
  | { type: 'progress'; progress: Progress; preview: { ref: ObjectRef; step: number } | undefined };

function viewKey(view: PendingView): string {
  if (view.type === 'queued') {
    return view.position === null ? 'starting' : `queued:${view.position.ahead}:${view.position.capped}`;
  }
  return `step:${view.progress.step}/${view.progress.total}:${view.preview?.step ?? '-'}`;
}

function cancelledFailure(jobId: string, cancelledBy: string, at: number): JobFailure {
  return {
    v: 1,
    type: 'failure',
    jobId,
    code: 'CANCELLED',
    retryable: false,
    message: `cancelled by ${cancelledBy}`,
    failedAt: at,
  };
}

export class JobTracker {
  private readonly waiting = new AbortController();
  private readonly stopping = new AbortController();
  private readonly log: Logger;
  private editor: ThrottledEditor<PendingView> | undefined;
  private progressWatch: { stop(): void } | undefined;
  private cancelWatch: { unsubscribe(): void } | undefined;
  private queueTimer: NodeJS.Timeout | undefined;
  private latestPreview: { ref: ObjectRef; step: number } | undefined;
  private latestProgress: Progress | undefined;
  private sawProgress = false;
  private finishing: Promise<void> | undefined;

  constructor(
    private readonly ctx: TrackerContext,
    private readonly record: DeliveryRecord,
    private job: Job | undefined,
    private readonly reply: InteractionReply | undefined,
    /** Submitted after start(): no stored outcome to look for. */
    private readonly submitting: boolean,
    private readonly onDone: (jobId: string) => void,
  ) {
    this.log = ctx.logger.child({ guildId: record.guildId, jobId: record.jobId });
  }

  get jobId(): string {
    return this.record.jobId;
  }

  start(): void {
    const { jobs, connection } = this.ctx;
    const subscription = connection.subscribe(SUBJECTS.cancel(this.jobId), {
      callback: (error, message) => {
        if (error !== null) return;
        this.onCancelRequest(message.data);
      },
    });
    this.cancelWatch = subscription;
    const reply = this.reply;
    if (reply !== undefined && this.job !== undefined) {
      const job = this.job;
      this.editor = new ThrottledEditor<PendingView>({
        intervalMs: this.ctx.progressIntervalMs,
        key: viewKey,
        send: (view) => this.showPending(job, reply, view),
        onError: (error) => {
          this.ctx.metrics.discordErrors.inc({ action: 'progress' });
          this.log.warn({ err: error }, LOG_EVENTS.progress.editFailed);
        },
        now: this.ctx.now,
      });
      this.progressWatch = jobs.watchProgress(this.jobId, (progress) => {
        this.onProgress(progress);
      });
      this.queueTimer = setInterval(() => {
        void this.refreshQueuePosition();
      }, QUEUE_REFRESH_MS);
    }
    const waiting = {
      signal: this.waiting.signal,
      timeoutMs: this.ctx.outcomeTimeoutMs,
      submitting: this.submitting,
    };
    jobs.awaitOutcome(this.jobId, waiting).then(
      (outcome) => this.finish(outcome),
      (error: unknown) => {
        if (this.finishing !== undefined || this.stopping.signal.aborted) return;
        if (error instanceof SdbotError && error.code === 'TIMEOUT') {
          void this.finish({
            v: 1,
            type: 'failure',
            jobId: this.jobId,
            code: 'TIMEOUT',
            retryable: true,
            message: error.message,
            failedAt: this.ctx.now(),
          });
          return;
        }
        this.log.error({ err: error }, LOG_EVENTS.outcome.waitFailed);
      },
    );
  }

  /** The queue position right after submission. */
  showQueued(position: QueuePosition | null): void {
    if (!this.sawProgress) this.editor?.update({ type: 'queued', position });
  }

  private onProgress(progress: Progress): void {
    this.sawProgress = true;
    if (this.queueTimer !== undefined) clearInterval(this.queueTimer);
    this.queueTimer = undefined;
    if (progress.preview !== undefined) this.latestPreview = { ref: progress.preview, step: progress.step };
    // A preview is published after its step, so it may arrive behind later steps: never go back.
    if (this.latestProgress === undefined || progress.step >= this.latestProgress.step) {
      this.latestProgress = progress;
    }
    this.editor?.update({ type: 'progress', progress: this.latestProgress, preview: this.latestPreview });
  }

  private async refreshQueuePosition(): Promise<void> {
    if (this.sawProgress || this.finishing !== undefined) return;
    try {
      const position = await this.ctx.jobs.queuePosition(this.jobId);
      this.showQueued(position);
    } catch (error) {
      this.log.warn({ err: error }, LOG_EVENTS.queue.readFailed);
    }
  }

  private async showPending(job: Job, reply: InteractionReply, view: PendingView): Promise<void> {
    if (!reply.usable()) return;
    if (view.type === 'queued') {
      await reply.edit(queuedView(job, view.position));
      return;
    }
    let preview: Buffer | undefined;
    if (view.preview !== undefined) {
      // A preview that expired or failed to read only costs the picture, not the progress line.
      preview = await this.ctx.jobs.readImage(view.preview.ref, { timeoutMs: PREVIEW_READ_TIMEOUT_MS }).then(
        (bytes) => Buffer.from(bytes),
        () => undefined,
      );
    }
    // The outcome may have arrived while the preview was read: a late edit would cover the result.
    if (this.finishing !== undefined || this.stopping.signal.aborted) return;
    await reply.edit(progressView(job, view.progress, preview));
  }

  private onCancelRequest(data: Uint8Array): void {
    let cancelledBy: string;
    try {
      cancelledBy = decodeMessage(cancelRequestSchema, data).requestedBy;
    } catch (error) {
      this.log.warn({ err: error, reason: 'invalid message' }, LOG_EVENTS.cancel.ignored);
      return;
    }
    // A cancel that came too late (the job already finished) changes nothing.
    void this.ctx.jobs.state(this.jobId).then(
      (record) => {
        if (record?.status.state === 'cancelled') this.finishCancelled(record.status.cancelledBy);
      },
      (error: unknown) => {
        this.log.warn({ err: error, cancelledBy }, LOG_EVENTS.state.readFailed);
      },
    );
  }

  /** The job was cancelled: say so now rather than when a worker gets to it. */
  finishCancelled(cancelledBy: string): void {
    void this.finish(cancelledFailure(this.jobId, cancelledBy, this.ctx.now()));
  }

  private stopWatching(): void {
    this.waiting.abort();
    this.progressWatch?.stop();
    this.cancelWatch?.unsubscribe();
    if (this.queueTimer !== undefined) clearInterval(this.queueTimer);
    this.queueTimer = undefined;
  }

  private finish(outcome: JobOutcome): Promise<void> {
    this.finishing ??= this.deliver(outcome).finally(() => {
      this.onDone(this.jobId);
    });
    return this.finishing;
  }

  private async deliver(outcome: JobOutcome): Promise<void> {
    this.stopWatching();
    // The job no longer queues or runs, whatever happens to its message: its slot is free.
    await this.releaseSlot();
    await this.editor?.close();
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      let wait: number;
      try {
        const attempt = await this.deliverOnce(outcome);
        if (attempt.type === 'done') return;
        wait = attempt.retryAfterMs;
      } catch (error) {
        failures += 1;
        const permanent =
          isPermanentDiscordFailure(error) || (error instanceof SdbotError && !error.retryable);
        this.ctx.metrics.discordErrors.inc({ action: 'deliver' });
        if (permanent || failures >= MAX_DELIVERY_ATTEMPTS) {
          this.log.error({ err: error, attempts: failures }, LOG_EVENTS.delivery.abandoned);
          await this.drop();
          return;
        }
        wait = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** (failures - 1));
        this.log.warn({ err: error, retryInMs: wait }, LOG_EVENTS.delivery.failed);
      }
      try {
        await sleep(wait, undefined, { signal: this.stopping.signal });
      } catch {
        return;
      }
    }
  }

  /** Forgets a job whose outcome cannot be posted. */
  private async drop(): Promise<void> {
    await this.ctx.deliveries.finish(this.jobId).catch((error: unknown) => {
      this.log.warn({ err: error }, LOG_EVENTS.delivery.removeFailed);
    });
    this.ctx.metrics.deliveries.inc({ route: 'dropped', type: 'failure' });
  }

  private async releaseSlot(): Promise<void> {
    await this.ctx.limiter
      .release({ guildId: this.record.guildId, jobId: this.jobId })
      .catch((error: unknown) => {
        this.log.warn({ err: error }, LOG_EVENTS.rateLimit.releaseFailed);
      });
  }

  private async deliverOnce(
    outcome: JobOutcome,
  ): Promise<{ type: 'done' } | { type: 'held'; retryAfterMs: number }> {
    const { deliveries, instanceId, now } = this.ctx;
    const claim = await deliveries.claim(this.jobId, instanceId, now(), CLAIM_LEASE_MS);
    // Posted by another instance already.
    if (claim.type === 'gone') return { type: 'done' };
    if (claim.type === 'held') return { type: 'held', retryAfterMs: Math.max(1000, claim.retryAfterMs) };
    let route: DeliveryRoute;
    try {
      const message = await this.render(outcome, claim.record);
      route = await this.post(message, claim.record);
    } catch (error) {
      await deliveries.releaseClaim(this.jobId, instanceId).catch((releaseError: unknown) => {
        this.log.warn({ err: releaseError }, LOG_EVENTS.claim.releaseFailed);
      });
      throw error;
    }
    // Posted: from here on a failure must not lead to posting again.
    await deliveries.finish(this.jobId).catch((error: unknown) => {
      this.log.warn(
        { err: error, next: 'the claim keeps other instances away' },
        LOG_EVENTS.delivery.removeFailed,
      );
    });
    this.ctx.metrics.deliveries.inc({ route, type: outcome.type });
    this.ctx.metrics.jobLatency.observe(Math.max(0, now() - this.record.createdAt) / 1000);
    this.log.info({ route, outcome: outcome.type }, LOG_EVENTS.job.delivered);
    return { type: 'done' };
  }

  private async render(outcome: JobOutcome, record: DeliveryRecord): Promise<OutgoingMessage> {
    const { jobs } = this.ctx;
    this.job ??= (await jobs.state(this.jobId))?.job;
    const job = this.job;
    if (outcome.type === 'failure')
      return failureView(job === undefined ? undefined : jobCaption(job), outcome, record.userId);
    if (job === undefined) {
      throw new SdbotError('NOT_FOUND', `job ${this.jobId} finished but its state has expired`);
    }
    const images = await Promise.all(
      outcome.images.map(async (image) => Buffer.from(await jobs.readImage(image.image))),
    );
    const spoiler = flaggedIntact(job, outcome);
    const view = {
      job,
      result: outcome,
      images,
      userId: record.userId,
      attachmentLimit: record.attachmentLimit,
      spoiler,
    };
    if (job.kind === 'upscale' || (job.kind === 'img2img' && job.hires !== undefined)) {
      return renderUpscale(this.ctx.settings, { ...view, guildId: record.guildId });
    }
    return resultView(view);
  }

  private async post(message: OutgoingMessage, record: DeliveryRecord): Promise<DeliveryRoute> {
    if (this.reply !== undefined && (await this.reply.edit(message))) return 'interaction';
    // The interaction cannot be used (expired, refused, or another process's): ping the requester.
    await postToChannel(
      this.ctx.client,
      record.channelId,
      { ...message, mentionUsers: [record.userId] },
      { nonce: channelPostNonce(record.jobId) },
    );
    return 'channel';
  }

  /** Stops following the job without posting (the bot is shutting down; another instance adopts it). */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.stopWatching();
    await this.editor?.close();
    await this.finishing;
  }
}
