/**
 * Banned words match whole words, case- and width-insensitively ("Gore", "ＧＯＲＥ" and "gore," all
 * match "gore"; "gorgeous" does not), so a short entry never blocks innocent longer words. A banned
 * phrase matches with any whitespace between its words.
 */

function normalize(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function wholeWordPattern(word: string): RegExp {
  const body = normalize(word).trim().split(/\s+/).map(escapeRegExp).join('\\s+');
  return new RegExp(`(?<![\\p{L}\\p{N}])${body}(?![\\p{L}\\p{N}])`, 'u');
}

/** The first banned word (as configured) that occurs in the text, or undefined. */
export function findBannedWord(text: string, bannedWords: readonly string[]): string | undefined {
  const haystack = normalize(text);
  return bannedWords.find((word) => word.trim() !== '' && wholeWordPattern(word).test(haystack));
}
