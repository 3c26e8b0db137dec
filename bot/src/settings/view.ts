/** The text of `/settings view` and of the two list subcommands (ephemeral, so at most 2000 chars). */
import type { GuildSettings } from '@sdbot/shared';
import {
  describeSettingValue,
  LIST_KEYS,
  SETTING_SPECS,
  settingValue,
  type SettingsDefaults,
} from './keys.js';

const MESSAGE_MAX_CHARS = 2000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function person(id: string): string {
  return /^\d{17,20}$/.test(id) ? `<@${id}>` : id;
}

export function formatBannedWords(settings: GuildSettings): string {
  const words = settings.bannedWords;
  if (words.length === 0) return 'No banned words.';
  return clip(
    `${words.length} banned word${words.length === 1 ? '' : 's'}: ${words.join(', ')}`,
    MESSAGE_MAX_CHARS,
  );
}

export function formatChannels(settings: GuildSettings): string {
  const channels = settings.allowedChannels;
  if (channels.length === 0) return '/imagine works in every channel.';
  return clip(`/imagine works only in ${channels.map((id) => `<#${id}>`).join(', ')}.`, MESSAGE_MAX_CHARS);
}

export function formatRoles(settings: GuildSettings): string {
  const roles = settings.allowedRoles;
  if (roles.length === 0) return 'Every member may create images.';
  return clip(
    `Only members with ${roles.map((id) => `<@&${id}>`).join(', ')} may create images.`,
    MESSAGE_MAX_CHARS,
  );
}

export function formatBannedUsers(settings: GuildSettings): string {
  const users = settings.bannedUsers;
  if (users.length === 0) return 'No banned members.';
  return clip(`Banned from creating images: ${users.map(person).join(', ')}.`, MESSAGE_MAX_CHARS);
}

export function formatChannelDefaults(settings: GuildSettings): string {
  const entries = Object.entries(settings.channelDefaults);
  if (entries.length === 0) return 'No channel has its own defaults.';
  const lines = entries.map(([channelId, defaults]) => {
    const parts = [
      defaults.model === undefined ? undefined : `model \`${defaults.model}\``,
      defaults.negativePrompt === undefined ? undefined : `negative prompt "${defaults.negativePrompt}"`,
    ].filter((part) => part !== undefined);
    return `<#${channelId}>: ${parts.join(', ')}`;
  });
  return clip(['Channel defaults:', ...lines].join('\n'), MESSAGE_MAX_CHARS);
}

/** One line per setting: the server's value, or the bot's marked as such. */
export function formatSettingsView(settings: GuildSettings, defaults: SettingsDefaults): string {
  const header =
    settings.updatedAt > 0
      ? `**Settings of this server** (last changed <t:${Math.floor(settings.updatedAt / 1000)}:R> by ${person(settings.updatedBy)})`
      : "**Settings of this server** (all the bot's defaults)";
  const lines = SETTING_SPECS.map((spec) => {
    const value = settingValue(settings, spec);
    return value === undefined
      ? `\`${spec.key}\`: ${spec.fallback(defaults)} (bot default)`
      : `\`${spec.key}\`: ${describeSettingValue(spec, value)}`;
  });
  const words = settings.bannedWords.length;
  lines.push(
    `\`${LIST_KEYS.bannedWords}\`: ${words === 0 ? 'none' : `${words} (see /settings banned-words list)`}`,
  );
  lines.push(`\`${LIST_KEYS.allowedChannels}\`: ${formatChannels(settings)}`);
  lines.push(`\`${LIST_KEYS.allowedRoles}\`: ${formatRoles(settings)}`);
  const banned = settings.bannedUsers.length;
  lines.push(
    `\`${LIST_KEYS.bannedUsers}\`: ${banned === 0 ? 'none' : `${banned} (see /settings banned-users list)`}`,
  );
  const channels = Object.keys(settings.channelDefaults).length;
  lines.push(
    `\`${LIST_KEYS.channelDefaults}\`: ${channels === 0 ? 'none' : `${channels} channels (see /settings channel-defaults list)`}`,
  );
  const footer = 'Change with /settings set, undo with /settings reset.';
  return clip([header, ...lines, footer].join('\n'), MESSAGE_MAX_CHARS);
}
