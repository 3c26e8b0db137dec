/**
 * Banned words, matched on a skeleton of the text so disguises do not get through: NFKC, full case
 * folding, invisible characters (zero-width, soft hyphen, other format and control characters)
 * removed, confusable look-alikes (Cyrillic, Greek, mathematical letters, ...) mapped to Latin as in
 * Unicode TR39, and accents dropped. The prompt is checked as typed and with A1111 weight syntax
 * removed, so `go(r)e` and `(gore:1.3)` are caught too.
 *
 * A rule matches whole words by default ("gore" does not block "gorgeous"); `*word*` matches inside
 * words, `word*` at a word's start and `*word` at its end. A phrase matches with any whitespace
 * between its words.
 */
import { remove as removeConfusables } from 'confusables';

/** Characters that render as nothing: zero-width, soft hyphen, joiners, variation selectors, bidi marks. */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;
/** Control characters other than whitespace vanish; whitespace controls become a space. */
const CONTROL = /[\p{Cc}]/gu;
const COMBINING_MARK = /\p{M}/gu;

/** The comparable form of a text: what TR39 calls its skeleton, case-folded and without accents. */
export function skeleton(text: string): string {
  const visible = text
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(CONTROL, (c) => (/\s/.test(c) ? ' ' : ''));
  // Full case folding of the letters whose lower case differs (ß -> ss); toLowerCase does the rest.
  const folded = visible.toLowerCase().replace(/ß/g, 'ss').replace(/ς/g, 'σ');
  return removeConfusables(folded)
    .toLowerCase()
    .normalize('NFD')
    .replace(COMBINING_MARK, '')
    .normalize('NFC');
}

/** Escaped brackets stand in as private-use characters while the syntax is removed. */
const ESCAPED_STAND_IN: Readonly<Record<string, string>> = {
  '(': '\uE000',
  ')': '\uE001',
  '[': '\uE002',
  ']': '\uE003',
  '\\': '\\',
};
const LITERAL_OF_STAND_IN: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(ESCAPED_STAND_IN).map(([literal, standIn]) => [standIn, literal]),
);

/**
 * The prompt without A1111 emphasis syntax: brackets and `:weight` suffixes go, escaped brackets stay
 * as the literal characters they stand for.
 */
export function withoutWeightSyntax(text: string): string {
  return text
    .replace(/\\([()[\]\\])/g, (_match, char: string) => ESCAPED_STAND_IN[char] ?? char)
    .replace(/:\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*\)/g, ')')
    .replace(/[()[\]]/g, '')
    .replace(/[\uE000-\uE003]/g, (char) => LITERAL_OF_STAND_IN[char] ?? char);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const WORD_CHAR = '[\\p{L}\\p{N}]';

/** The pattern of one configured rule, or undefined for a rule that is empty once normalised. */
function rulePattern(rule: string): RegExp | undefined {
  const trimmed = rule.trim();
  const inWordStart = trimmed.startsWith('*');
  const inWordEnd = trimmed.endsWith('*') && trimmed.length > 1;
  const core = skeleton(trimmed.replace(/^\*/, '').replace(/\*$/, '')).trim();
  if (core === '') return undefined;
  const body = core.split(/\s+/).map(escapeRegExp).join('\\s+');
  const before = inWordStart ? '' : `(?<!${WORD_CHAR})`;
  const after = inWordEnd ? '' : `(?!${WORD_CHAR})`;
  return new RegExp(`${before}${body}${after}`, 'u');
}

/** The first banned word (as configured) that occurs in the text, or undefined. */
export function findBannedWord(text: string, bannedWords: readonly string[]): string | undefined {
  const forms = [skeleton(text), skeleton(withoutWeightSyntax(text))];
  return bannedWords.find((rule) => {
    const pattern = rulePattern(rule);
    return pattern !== undefined && forms.some((form) => pattern.test(form));
  });
}
