/**
 * `/settings`: view and change a guild's limits, defaults, quotas, banned words, channels, roles,
 * banned members, channel defaults and NSFW policy.
 * Discord hides the command from members without Manage Server, but a stale registration or a
 * hand-made request does not, so the member's permissions are checked here too. Answers are private.
 */
import { PermissionFlagsBits, type ChatInputCommandInteraction } from 'discord.js';
import { LOG_EVENTS, ValidationError, type GuildSettings } from '@sdbot/shared';
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
import {
  addBannedWords,
  allowChannel,
  allowRole,
  banUser,
  clearChannelDefaults,
  disallowChannel,
  disallowRole,
  removeBannedWords,
  setChannelDefaults,
  unbanUser,
} from '../settings/lists.js';
import type { SettingsChange } from '../settings/store.js';
import {
  formatBannedUsers,
  formatBannedWords,
  formatChannelDefaults,
  formatChannels,
  formatRoles,
  formatSettingsView,
} from '../settings/view.js';
import type { BotContext } from '../service/context.js';
import { deferPrivately } from './respond.js';

const s = SETTINGS_SUBCOMMANDS;

/** What a list key holds now, as its `list` subcommand shows it. */
const LIST_VIEWS: Readonly<Record<string, (settings: GuildSettings) => string>> = {
  [LIST_KEYS.bannedWords]: formatBannedWords,
  [LIST_KEYS.allowedChannels]: formatChannels,
  [LIST_KEYS.allowedRoles]: formatRoles,
  [LIST_KEYS.bannedUsers]: formatBannedUsers,
  [LIST_KEYS.channelDefaults]: formatChannelDefaults,
};

/** What a key is set to now, as `/settings view` shows it. */
function describeKey(ctx: BotContext, settings: GuildSettings, key: string): string {
  const list = LIST_VIEWS[key];
  if (list !== undefined) return list(settings);
  const spec = findSettingSpec(key);
  if (spec === undefined) return `\`${key}\` changed.`;
  const value = settingValue(settings, spec);
  return value === undefined
    ? `\`${key}\` is back to the bot's default: ${spec.fallback(ctx.settingsDefaults)}.`
    : `\`${key}\` is now ${describeSettingValue(spec, value)}.`;
}

/** A list subcommand: the list key it shows or changes, and the change (none for `list`). */
interface ListAction {
  key: string;
  apply?: SettingsChange;
}

type Options = ChatInputCommandInteraction['options'];

/** Each subcommand group: its subcommands, and what each does to the settings. */
const GROUPS: Readonly<
  Record<string, { subcommands: readonly string[]; action(sub: string, options: Options): ListAction }>
> = {
  [s.bannedWords.group]: {
    subcommands: [s.bannedWords.add, s.bannedWords.remove, s.bannedWords.list],
    action(sub, options) {
      const key = LIST_KEYS.bannedWords;
      if (sub === s.bannedWords.list) return { key };
      const words = options.getString(s.bannedWords.words, true);
      const apply = sub === s.bannedWords.add ? addBannedWords : removeBannedWords;
      return { key, apply: (current) => apply(current, words) };
    },
  },
  [s.channels.group]: {
    subcommands: [s.channels.allow, s.channels.disallow, s.channels.list],
    action(sub, options) {
      const key = LIST_KEYS.allowedChannels;
      if (sub === s.channels.list) return { key };
      const channelId = options.getChannel(s.channels.channel, true).id;
      const apply = sub === s.channels.allow ? allowChannel : disallowChannel;
      return { key, apply: (current) => apply(current, channelId) };
    },
  },
  [s.roles.group]: {
    subcommands: [s.roles.allow, s.roles.disallow, s.roles.list],
    action(sub, options) {
      const key = LIST_KEYS.allowedRoles;
      if (sub === s.roles.list) return { key };
      const roleId = options.getRole(s.roles.role, true).id;
      const apply = sub === s.roles.allow ? allowRole : disallowRole;
      return { key, apply: (current) => apply(current, roleId) };
    },
  },
  [s.bannedUsers.group]: {
    subcommands: [s.bannedUsers.add, s.bannedUsers.remove, s.bannedUsers.list],
    action(sub, options) {
      const key = LIST_KEYS.bannedUsers;
      if (sub === s.bannedUsers.list) return { key };
      const userId = options.getUser(s.bannedUsers.user, true).id;
      const apply = sub === s.bannedUsers.add ? banUser : unbanUser;
      return { key, apply: (current) => apply(current, userId) };
    },
  },
  [s.channelDefaults.group]: {
    subcommands: [s.channelDefaults.set, s.channelDefaults.clear, s.channelDefaults.list],
    action(sub, options) {
      const key = LIST_KEYS.channelDefaults;
      if (sub === s.channelDefaults.list) return { key };
      const channelId = options.getChannel(s.channelDefaults.channel, true).id;
      if (sub === s.channelDefaults.clear) {
        return { key, apply: (current) => clearChannelDefaults(current, channelId) };
      }
      const change: { model?: string; negativePrompt?: string } = {};
      const model = options.getString(s.channelDefaults.model);
      const negative = options.getString(s.channelDefaults.negative);
      if (model !== null) change.model = model;
      if (negative !== null) change.negativePrompt = negative;
      if (model === null && negative === null) {
        throw new ValidationError([
          { field: s.channelDefaults.model, message: 'give a model, a negative prompt or both' },
        ]);
      }
      return { key, apply: (current) => setChannelDefaults(current, channelId, change) };
    },
  },
};

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
  const known = group === null ? [s.view, s.set, s.reset] : (GROUPS[group]?.subcommands ?? []);
  if (!known.includes(subcommand)) {
    const name = [group, subcommand].filter((part) => part !== null).join(' ');
    throw new ValidationError([{ field: name, message: 'is not a subcommand of /settings' }]);
  }
  // Read the options before deferring, so a malformed one is answered privately at once.
  const listAction = group === null ? undefined : GROUPS[group]?.action(subcommand, interaction.options);
  if (!(await deferPrivately(interaction))) return;
  const userId = interaction.user.id;
  const change = async (describe: string, apply: SettingsChange): Promise<string> => {
    const { after } = await ctx.settings.update(guildId, userId, apply);
    ctx.logger.info({ guildId, by: userId, change: describe }, LOG_EVENTS.settings.changed);
    return describeKey(ctx, after, describe);
  };
  let answer: string;
  if (listAction !== undefined) {
    answer =
      listAction.apply === undefined
        ? describeKey(ctx, await ctx.settings.get(guildId), listAction.key)
        : await change(listAction.key, listAction.apply);
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
