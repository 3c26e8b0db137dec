/**
 * The two lists in guild settings: banned words and the channels /imagine may be used in. Each
 * change is a pure function of the current settings, run inside the store's compare-and-set loop.
 */
import type { GuildSettings } from '@sdbot/shared';
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
