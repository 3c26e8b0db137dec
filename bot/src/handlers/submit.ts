/**
 * The one way a job leaves the bot: rate limits first, then the delivery record (so the outcome is
 * posted even if this process dies), then JobsClient.submit. Used by /imagine and by the V and
 * re-roll buttons, on an interaction already deferred publicly.
 */
import {
  completeJob,
  LOG_EVENTS,
  RateLimitError,
  SdbotError,
  type DeliveryRecord,
  type GuildSettings,
  type Job,
  type JobDraftInput,
} from '@sdbot/shared';
import type { RepliableInteraction } from 'discord.js';
import { DEFAULT_ATTACHMENT_LIMIT_BYTES } from '../render/fit.js';
import type { BotContext } from '../service/context.js';
import { InteractionReply, tokenExpiry } from '../service/discord.js';

/** One job per interaction: the id also de-duplicates a job two replicas might both submit. */
export function jobIdFor(interaction: RepliableInteraction): string {
  return `discord-${interaction.id}`;
}

/** An age-restricted guild channel (text channels, threads of one, forums...). */
function isAgeRestricted(interaction: RepliableInteraction): boolean {
  const channel = interaction.channel;
  return channel !== null && 'nsfw' in channel && channel.nsfw;
}

export async function submitJob(
  ctx: BotContext,
  interaction: RepliableInteraction,
  settings: GuildSettings | null,
  draft: JobDraftInput,
  /** Private notes for the requester, sent once the reply shows the job. */
  notes: readonly string[] = [],
): Promise<Job> {
  const jobId = jobIdFor(interaction);
  const guildId = interaction.guildId;
  const userId = interaction.user.id;
  const channelId = interaction.channelId;
  if (channelId === null) {
    throw new SdbotError('INVALID_INPUT', 'this interaction came without a channel to post the pictures in');
  }
  const log = ctx.logger.child({ guildId, jobId });
  const grant = await ctx.limiter.acquire({
    guildId,
    userId,
    jobId,
    ...(settings === null ? {} : { overrides: settings.rateLimits }),
  });
  if (!grant.ok) {
    log.info({ reason: grant.reason, retryAfterMs: grant.retryAfterMs }, LOG_EVENTS.job.rateLimited);
    ctx.metrics.rateLimited.inc({ reason: grant.reason });
    throw new RateLimitError(grant.message, grant.retryAfterMs ?? 0);
  }
  let recorded = false;
  try {
    const expiresAt = tokenExpiry(interaction);
    const job = ctx.jobs.checkJob(
      completeJob(draft, {
        id: jobId,
        requester: {
          source: 'discord',
          guildId,
          channelId,
          userId,
          interactionId: interaction.id,
          interactionTokenExpiresAt: expiresAt,
        },
        createdAt: ctx.now(),
      }),
    );
    const record: DeliveryRecord = {
      v: 1,
      jobId,
      guildId,
      channelId,
      userId,
      channelNsfw: isAgeRestricted(interaction),
      attachmentLimit: interaction.attachmentSizeLimit || DEFAULT_ATTACHMENT_LIMIT_BYTES,
      tokenExpiresAt: expiresAt,
      owner: ctx.delivery.instanceId,
      createdAt: ctx.now(),
    };
    await ctx.deliveries.create(record);
    recorded = true;
    const reply = new InteractionReply(interaction, expiresAt, ctx.now).withNotes(notes);
    const tracker = ctx.delivery.track(record, job, reply, { submitting: true });
    await ctx.jobs.submit(job);
    log.info(
      job.kind === 'upscale'
        ? { kind: job.kind, model: job.model }
        : {
            kind: job.kind,
            model: job.model,
            count: job.count,
            steps: job.steps,
            size: `${job.width}x${job.height}`,
          },
      LOG_EVENTS.job.submitted,
    );
    tracker.showQueued(await ctx.jobs.queuePosition(jobId).catch(() => null));
    return job;
  } catch (error) {
    await ctx.delivery.abandon(jobId);
    if (recorded) {
      await ctx.deliveries.finish(jobId).catch((cleanup: unknown) => {
        log.warn({ err: cleanup, reason: 'the job was not submitted' }, LOG_EVENTS.delivery.removeFailed);
      });
    }
    await grant.release().catch((cleanup: unknown) => {
      log.warn({ err: cleanup, reason: 'the job was not submitted' }, LOG_EVENTS.rateLimit.releaseFailed);
    });
    throw error;
  }
}
