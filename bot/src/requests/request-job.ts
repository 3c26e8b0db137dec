/**
 * The one path by which the bot creates a job: whatever asked for it (/imagine, a V or re-roll
 * button, later a remix modal or an upscale), the draft passes the server's policy here and then
 * goes to submitJob (rate limits, delivery record, NATS). A new way to ask for pictures builds a
 * draft (deriveJob for anything made from an earlier job) and calls requestJob.
 */
import type { Job, JobDraft } from '@sdbot/shared';
import type { RepliableInteraction } from 'discord.js';
import { submitJob } from '../handlers/submit.js';
import type { BotContext } from '../service/context.js';
import { enforcePolicy, type ChannelRef, type PolicyContext } from './policy.js';

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

/** What the policy (and the defaults of /imagine) depend on: who asks where, the settings, the models online. */
export async function requestContext(
  ctx: BotContext,
  interaction: RepliableInteraction,
): Promise<PolicyContext> {
  const guildId = interaction.guildId;
  const [settings, models] = await Promise.all([
    guildId === null ? null : ctx.settings.get(guildId),
    ctx.jobs.servedModels(),
  ]);
  return {
    userId: interaction.user.id,
    roles: rolesOf(interaction),
    settings,
    channel: channelOf(interaction),
    models,
    maxPixels: ctx.config.limits.maxPixels,
  };
}

/** Checks the draft against the server's policy and submits it, on an interaction deferred publicly. */
export async function requestJob(
  ctx: BotContext,
  interaction: RepliableInteraction,
  draft: JobDraft,
  context: PolicyContext,
): Promise<Job> {
  await enforcePolicy(draft, context);
  return submitJob(ctx, interaction, context.settings, draft);
}
