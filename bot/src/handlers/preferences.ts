/**
 * `/preferences`: any member views, changes or resets their own defaults for /imagine. Answers are
 * private; in a server the view also shows today's quota there.
 */
import type { ChatInputCommandInteraction } from 'discord.js';
import { LOG_EVENTS, SCHEDULER_NAMES, ValidationError, type SchedulerName } from '@sdbot/shared';
import { PREFERENCE_KEYS, PREFERENCES_SUBCOMMANDS } from '../commands/definitions.js';
import {
  applyPreferences,
  formatPreferences,
  resetPreference,
  type PreferenceInput,
  type PreferenceKey,
  type QuotaView,
} from '../preferences/changes.js';
import type { BotContext } from '../service/context.js';
import { deferPrivately } from './respond.js';

const p = PREFERENCES_SUBCOMMANDS;

function isSchedulerName(value: string): value is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(value);
}

function isPreferenceKey(value: string): value is PreferenceKey {
  return (PREFERENCE_KEYS as readonly string[]).includes(value);
}

function readInput(options: ChatInputCommandInteraction['options']): PreferenceInput {
  const input: PreferenceInput = {};
  const negative = options.getString(p.negative);
  const aspect = options.getString(p.aspect);
  const scheduler = options.getString(p.scheduler);
  const steps = options.getInteger(p.steps);
  const width = options.getInteger(p.width);
  const height = options.getInteger(p.height);
  const count = options.getInteger(p.count);
  const remix = options.getBoolean(p.remix);
  if (negative !== null) input.negative = negative;
  if (aspect !== null) input.aspect = aspect;
  if (scheduler !== null) {
    if (!isSchedulerName(scheduler)) {
      throw new ValidationError([
        { field: p.scheduler, message: `must be one of ${SCHEDULER_NAMES.join(', ')}` },
      ]);
    }
    input.scheduler = scheduler;
  }
  if (steps !== null) input.steps = steps;
  if (width !== null) input.width = width;
  if (height !== null) input.height = height;
  if (count !== null) input.count = count;
  if (remix !== null) input.remix = remix;
  if (Object.keys(input).length === 0) {
    throw new ValidationError([{ field: p.set, message: 'give at least one preference to change' }]);
  }
  return input;
}

async function quotaView(
  ctx: BotContext,
  interaction: ChatInputCommandInteraction,
): Promise<QuotaView | undefined> {
  const guildId = interaction.guildId;
  if (guildId === null) return undefined;
  const settings = await ctx.settings.get(guildId);
  const limits = {
    ...(settings.userDailyImages === undefined ? {} : { user: settings.userDailyImages }),
    ...(settings.serverDailyImages === undefined ? {} : { server: settings.serverDailyImages }),
  };
  if (limits.user === undefined && limits.server === undefined) return undefined;
  const usage = await ctx.quotas.usage({ guildId, userId: interaction.user.id });
  return { limits, usage, now: ctx.now() };
}

export async function handlePreferences(
  ctx: BotContext,
  interaction: ChatInputCommandInteraction,
): Promise<void> {
  const subcommand = interaction.options.getSubcommand(true);
  const userId = interaction.user.id;
  let change:
    ((current: Parameters<typeof applyPreferences>[0]) => ReturnType<typeof applyPreferences>) | undefined;
  if (subcommand === p.set) {
    const input = readInput(interaction.options);
    change = (current) => applyPreferences(current, input);
  } else if (subcommand === p.reset) {
    const key = interaction.options.getString(p.key, true);
    if (!isPreferenceKey(key)) {
      throw new ValidationError([{ field: p.key, message: `must be one of ${PREFERENCE_KEYS.join(', ')}` }]);
    }
    change = (current) => resetPreference(current, key);
  } else if (subcommand !== p.view) {
    throw new ValidationError([{ field: subcommand, message: 'is not a subcommand of /preferences' }]);
  }
  if (!(await deferPrivately(interaction))) return;
  const preferences =
    change === undefined ? await ctx.preferences.get(userId) : await ctx.preferences.update(userId, change);
  if (change !== undefined) ctx.logger.info({ userId, subcommand }, LOG_EVENTS.preferences.changed);
  const content = formatPreferences(preferences, await quotaView(ctx, interaction));
  await interaction.editReply({ content, allowedMentions: { parse: [] } });
}
