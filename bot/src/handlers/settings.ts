/**
 * `/settings`: view and change a guild's limits, defaults, banned words, channels and NSFW policy.
 * Discord hides the command from members without Manage Server, but a stale registration or a
 * hand-made request does not, so the member's permissions are checked here too. Answers are private.
 */
import { PermissionFlagsBits, type ChatInputCommandInteraction } from 'discord.js';
import { ValidationError, type GuildSettings } from '@sdbot/shared';
import { SETTINGS_SUBCOMMANDS } from '../commands/definitions.js';
import { RequestRefusedError } from '../errors.js';
import {
  applySetting,
  describeSettingValue,
  findSettingSpec,
  LIST_KEYS,
  resetSetting,
  settingValue,
} from '../settings/keys.js';
import { addBannedWords, allowChannel, disallowChannel, removeBannedWords } from '../settings/lists.js';
import type { SettingsChange } from '../settings/store.js';
import { formatBannedWords, formatChannels, formatSettingsView } from '../settings/view.js';
import type { BotContext } from '../service/context.js';
import { deferPrivately } from './respond.js';

const s = SETTINGS_SUBCOMMANDS;

/** What a key is set to now, as `/settings view` shows it. */
function describeKey(ctx: BotContext, settings: GuildSettings, key: string): string {
  if (key === LIST_KEYS.bannedWords) return formatBannedWords(settings);
  if (key === LIST_KEYS.allowedChannels) return formatChannels(settings);
  const spec = findSettingSpec(key);
  if (spec === undefined) return `\`${key}\` changed.`;
  const value = settingValue(settings, spec);
  return value === undefined
    ? `\`${key}\` is back to the bot's default: ${spec.fallback(ctx.settingsDefaults)}.`
    : `\`${key}\` is now ${describeSettingValue(spec, value)}.`;
}

export async function handleSettings(
  ctx: BotContext,
  interaction: ChatInputCommandInteraction,
): Promise<void> {
  const guildId = interaction.guildId;
  if (guildId === null) {
    throw new RequestRefusedError('guild-only', '/settings works in a server, not in direct messages.');
  }
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) !== true) {
    throw new RequestRefusedError('not-permitted', '/settings needs the Manage Server permission.');
  }
  const group = interaction.options.getSubcommandGroup(false);
  const subcommand = interaction.options.getSubcommand(true);
  const known: Record<string, readonly string[]> = {
    '': [s.view, s.set, s.reset],
    [s.bannedWords.group]: [s.bannedWords.add, s.bannedWords.remove, s.bannedWords.list],
    [s.channels.group]: [s.channels.allow, s.channels.disallow, s.channels.list],
  };
  if (known[group ?? '']?.includes(subcommand) !== true) {
    const name = [group, subcommand].filter((part) => part !== null).join(' ');
    throw new ValidationError([{ field: name, message: 'is not a subcommand of /settings' }]);
  }
  if (!(await deferPrivately(interaction))) return;
  const userId = interaction.user.id;
  const change = async (describe: string, apply: SettingsChange): Promise<string> => {
    const { after } = await ctx.settings.update(guildId, userId, apply);
    ctx.logger.info({ guildId, by: userId, change: describe }, 'settings:changed');
    return describeKey(ctx, after, describe);
  };
  let answer: string;
  if (group === s.bannedWords.group) {
    if (subcommand === s.bannedWords.list) {
      answer = formatBannedWords(await ctx.settings.get(guildId));
    } else {
      const words = interaction.options.getString(s.bannedWords.words, true);
      const apply = subcommand === s.bannedWords.add ? addBannedWords : removeBannedWords;
      answer = await change(LIST_KEYS.bannedWords, (current) => apply(current, words));
    }
  } else if (group === s.channels.group) {
    if (subcommand === s.channels.list) {
      answer = formatChannels(await ctx.settings.get(guildId));
    } else {
      const channelId = interaction.options.getChannel(s.channels.channel, true).id;
      const apply = subcommand === s.channels.allow ? allowChannel : disallowChannel;
      answer = await change(LIST_KEYS.allowedChannels, (current) => apply(current, channelId));
    }
  } else if (subcommand === s.set) {
    const key = interaction.options.getString(s.key, true);
    const value = interaction.options.getString(s.value, true);
    answer = await change(key, (current) => applySetting(current, key, value, ctx.settingsDefaults));
  } else if (subcommand === s.reset) {
    const key = interaction.options.getString(s.key, true);
    answer = await change(key, (current) => resetSetting(current, key));
  } else {
    answer = formatSettingsView(await ctx.settings.get(guildId), ctx.settingsDefaults);
  }
  await interaction.editReply({ content: answer, allowedMentions: { parse: [] } });
}
