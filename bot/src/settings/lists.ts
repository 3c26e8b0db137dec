/**
 * The lists in guild settings: banned words, the channels /imagine may be used in, the roles that
 * may create jobs, banned members and per-channel defaults. Each change is a pure function of the
 * current settings, run inside the store's compare-and-set loop.
 */
import type { ChannelDefaults, GuildSettings } from '@sdbot/shared';
import { checkSettings } from './keys.js';

function normalizeWord(word: string): string {
  return word.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

/** `gore, blood bath` (commas or new lines) to trimmed words, in order, without repeats. */
export function splitWordList(text: string): string[] {
  const seen = new Set<string>();
  const words: string[] = [];
  for (const part of text.split(/[,\n]/)) {
    const word = normalizeWord(part);
    if (word === '' || seen.has(word)) continue;
    seen.add(word);
    words.push(word);
  }
  return words;
}

export function addBannedWords(settings: GuildSettings, text: string): GuildSettings {
  const present = new Set(settings.bannedWords.map(normalizeWord));
  const added = splitWordList(text).filter((word) => !present.has(word));
  return checkSettings({ ...settings, bannedWords: [...settings.bannedWords, ...added] });
}

export function removeBannedWords(settings: GuildSettings, text: string): GuildSettings {
  const removed = new Set(splitWordList(text));
  return {
    ...settings,
    bannedWords: settings.bannedWords.filter((word) => !removed.has(normalizeWord(word))),
  };
}

export function allowChannel(settings: GuildSettings, channelId: string): GuildSettings {
  if (settings.allowedChannels.includes(channelId)) return settings;
  return checkSettings({ ...settings, allowedChannels: [...settings.allowedChannels, channelId] });
}

export function disallowChannel(settings: GuildSettings, channelId: string): GuildSettings {
  return { ...settings, allowedChannels: settings.allowedChannels.filter((id) => id !== channelId) };
}

export function allowRole(settings: GuildSettings, roleId: string): GuildSettings {
  if (settings.allowedRoles.includes(roleId)) return settings;
  return checkSettings({ ...settings, allowedRoles: [...settings.allowedRoles, roleId] });
}

export function disallowRole(settings: GuildSettings, roleId: string): GuildSettings {
  return { ...settings, allowedRoles: settings.allowedRoles.filter((id) => id !== roleId) };
}

export function banUser(settings: GuildSettings, userId: string): GuildSettings {
  if (settings.bannedUsers.includes(userId)) return settings;
  return checkSettings({ ...settings, bannedUsers: [...settings.bannedUsers, userId] });
}

export function unbanUser(settings: GuildSettings, userId: string): GuildSettings {
  return { ...settings, bannedUsers: settings.bannedUsers.filter((id) => id !== userId) };
}

function withoutChannel(
  defaults: GuildSettings['channelDefaults'],
  channelId: string,
): GuildSettings['channelDefaults'] {
  return Object.fromEntries(Object.entries(defaults).filter(([id]) => id !== channelId));
}

/**
 * Sets a channel's default model and/or negative prompt; a value left undefined keeps the current
 * one, an empty negative prompt removes it.
 */
export function setChannelDefaults(
  settings: GuildSettings,
  channelId: string,
  change: { model?: string; negativePrompt?: string },
): GuildSettings {
  const current = settings.channelDefaults[channelId] ?? {};
  const next: ChannelDefaults = { ...current };
  if (change.model !== undefined) next.model = change.model.trim();
  if (change.negativePrompt !== undefined) {
    const negative = change.negativePrompt.trim();
    if (negative === '') delete next.negativePrompt;
    else next.negativePrompt = negative;
  }
  const others = withoutChannel(settings.channelDefaults, channelId);
  const empty = next.model === undefined && next.negativePrompt === undefined;
  return checkSettings({ ...settings, channelDefaults: empty ? others : { ...others, [channelId]: next } });
}

export function clearChannelDefaults(settings: GuildSettings, channelId: string): GuildSettings {
  if (settings.channelDefaults[channelId] === undefined) return settings;
  return { ...settings, channelDefaults: withoutChannel(settings.channelDefaults, channelId) };
}
