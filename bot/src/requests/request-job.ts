/**
 * The one path by which the bot creates a job: whatever asked for it (/imagine, a V or re-roll
 * button, later a remix modal or an upscale), the draft passes the server's policy here, is counted
 * against the daily quotas, and then goes to submitJob (rate limits, delivery record, NATS). A new
 * way to ask for pictures builds a draft (deriveJob for anything made from an earlier job) and calls
 * requestJob.
 */
import type { Job, JobDraft } from '@sdbot/shared';
import type { RepliableInteraction } from 'discord.js';
import { RequestRefusedError } from '../errors.js';
import { submitJob } from '../handlers/submit.js';
import type { DailyLimits } from '../quota/daily-quota.js';
import type { BotContext } from '../service/context.js';
import { enforcePolicy, nsfwAllowedHere, type ChannelRef, type PolicyContext } from './policy.js';
import { LOG_EVENTS } from '@sdbot/shared';

/** The channel, and the channel a thread belongs to, so a channel allowed by the guild allows its threads. */
function channelOf(interaction: RepliableInteraction): ChannelRef | null {
  if (interaction.channelId === null) return null;
  const channel = interaction.channel;
  const parentId = channel !== null && 'parentId' in channel ? channel.parentId : null;
  return { id: interaction.channelId, parentId };
}

/** The member's role ids; none in direct messages. */
function rolesOf(interaction: RepliableInteraction): string[] {
  const member = interaction.member;
  if (member === null) return [];
  return Array.isArray(member.roles) ? [...member.roles] : [...member.roles.cache.keys()];
}

/** An age-restricted guild channel, or a thread whose parent is one. */
function isAgeRestricted(interaction: RepliableInteraction): boolean {
  const channel = interaction.channel;
  if (channel === null) return false;
  if ('nsfw' in channel) return channel.nsfw;
  const parent = 'parent' in channel ? channel.parent : null;
  return parent !== null && 'nsfw' in parent && parent.nsfw;
}

/** What the policy and the defaults of /imagine depend on: who asks where, the settings and preferences, the models online. */
export async function requestContext(
  ctx: BotContext,
  interaction: RepliableInteraction,
): Promise<PolicyContext> {
  const guildId = interaction.guildId;
  const [settings, models, preferences] = await Promise.all([
    guildId === null ? null : ctx.settings.get(guildId),
    ctx.jobs.servedModels(),
    ctx.preferences.get(interaction.user.id),
  ]);
  return {
    userId: interaction.user.id,
    roles: rolesOf(interaction),
    settings,
    channel: channelOf(interaction),
    models,
    maxPixels: ctx.config.limits.maxPixels,
    ageRestricted: isAgeRestricted(interaction),
    preferences: preferences.updatedAt === 0 ? null : preferences,
  };
}

/** The server's daily quotas; none in direct messages. */
export function dailyLimits(context: Pick<PolicyContext, 'settings'>): DailyLimits {
  const settings = context.settings;
  if (settings === null) return {};
  return {
    ...(settings.userDailyImages === undefined ? {} : { user: settings.userDailyImages }),
    ...(settings.serverDailyImages === undefined ? {} : { server: settings.serverDailyImages }),
  };
}

/** Images a job makes, as the quotas count them. */
function imagesOf(draft: JobDraft): number {
  return draft.kind === 'upscale' ? 1 : draft.count;
}

/**
 * Checks the draft against the server's policy, counts it against the daily quotas and submits it,
 * on an interaction deferred publicly. A job that is not submitted after all (a rate limit, NATS
 * down) gives its images back to the quotas.
 */
export async function requestJob(
  ctx: BotContext,
  interaction: RepliableInteraction,
  draft: JobDraft,
  context: PolicyContext,
  /** Private notes for the requester (a preference lowered to a limit). */
  notes: readonly string[] = [],
): Promise<Job> {
  await enforcePolicy(draft, context);
  // Decided where the job is asked for, never inherited: a re-roll of a job from an age-restricted
  // channel, pressed after the channel changed, follows the channel as it is now.
  const { nsfw: _inherited, ...rest } = draft;
  const placed: JobDraft = nsfwAllowedHere(context) ? { ...rest, nsfw: 'allow' } : rest;
  const guildId = interaction.guildId;
  const limits = dailyLimits(context);
  const scope = guildId === null ? undefined : { guildId, userId: interaction.user.id };
  const images = imagesOf(placed);
  if (scope !== undefined) {
    const grant = await ctx.quotas.reserve(scope, images, limits);
    if (!grant.ok) {
      ctx.logger.info(
        { guildId, userId: scope.userId, which: grant.which, limit: grant.limit },
        LOG_EVENTS.job.quotaRefused,
      );
      throw new RequestRefusedError('daily-quota', grant.message);
    }
  }
  try {
    return await submitJob(ctx, interaction, context.settings, placed, notes);
  } catch (error) {
    if (scope !== undefined) {
      await ctx.quotas.release(scope, images, limits).catch((releaseError: unknown) => {
        ctx.logger.warn({ err: releaseError, guildId }, LOG_EVENTS.quota.releaseFailed);
      });
    }
    throw error;
  }
}
