/**
 * AUTOMATIC1111's attention syntax, read the way its `parse_prompt_attention` reads it, including
 * what it does with odd input: `(x)` x1.1, `[x]` /1.1, `(x:1.3)`, `\(` `\)` `\[` `\]` `\\` for
 * literal characters, a lone `\` dropped, unclosed brackets applied to the end of the prompt,
 * unmatched `)` `]` and `(x:notanumber)` kept as text, and `BREAK` splitting the prompt.
 *
 * Python's regular expressions are Unicode-aware where JavaScript's are not (`\s`, `\d`, `\b`), so
 * the classes are spelled out to match what Python matches.
 */

/** A run of prompt text and the weight its tokens get; a BREAK is `{ text: 'BREAK', weight: -1 }`. */
export interface PromptFragment {
  text: string;
  weight: number;
}

const ROUND_MULTIPLIER = 1.1;
const SQUARE_MULTIPLIER = 1 / 1.1;
const BREAK_TEXT = 'BREAK';
const BREAK_WEIGHT = -1;

/** Python's `\s` on str: `str.isspace()` characters (JavaScript adds U+FEFF and lacks U+001C..U+001F, U+0085). */
const SPACE = String.raw`[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]`;
/** Python's `\w` on str: letters, anything numeric, underscore. */
const WORD = String.raw`[\p{L}\p{N}_]`;

/**
 * The scanner: escapes first, then brackets, a weight closing a round bracket, the other closers,
 * a run of plain text, a lone colon. Every character is matched by one alternative.
 */
const TOKEN = new RegExp(
  [
    String.raw`\\[()[\]\\]`,
    String.raw`\\`,
    String.raw`\(`,
    String.raw`\[`,
    String.raw`:${SPACE}*([+-]?[.\p{Nd}]+)${SPACE}*\)`,
    String.raw`\)`,
    String.raw`\]`,
    String.raw`[^\\()[\]:]+`,
    ':',
  ].join('|'),
  'gu',
);

const BREAK_SPLIT = new RegExp(`${SPACE}*(?<!${WORD})${BREAK_TEXT}(?!${WORD})${SPACE}*`, 'u');
const DECIMAL_DIGIT = /^\p{Nd}$/u;

export function isBreak(fragment: PromptFragment): boolean {
  return fragment.text === BREAK_TEXT && fragment.weight === BREAK_WEIGHT;
}

/**
 * The value of a decimal digit of any script (Python's `float` reads them all): Unicode encodes
 * each script's digits as ten consecutive code points from 0 to 9, runs of scripts back to back.
 */
function digitValue(char: string): number {
  let code = char.codePointAt(0) ?? 0;
  let offset = 0;
  while (DECIMAL_DIGIT.test(String.fromCodePoint(code - 1))) {
    code -= 1;
    offset += 1;
  }
  return offset % 10;
}

/** Python's `float()` of what the weight pattern matched, or undefined where it raises. */
function pythonFloat(text: string): number | undefined {
  const ascii = Array.from(text, (char) => (DECIMAL_DIGIT.test(char) ? String(digitValue(char)) : char)).join(
    '',
  );
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(ascii)) return undefined;
  return Number(ascii);
}

/**
 * Parses attention syntax into fragments with their weights; adjacent fragments of equal weight
 * are merged, and an empty prompt is one empty fragment of weight 1.
 *
 * One deliberate difference: where the weight is not a number Python can read (`(x:1.2.3)`),
 * A1111 stops with an error; here the colon and the number stay text, as `(x:abc)` does.
 */
export function parsePromptAttention(prompt: string): PromptFragment[] {
  const fragments: PromptFragment[] = [];
  const round: number[] = [];
  const square: number[] = [];
  const multiplyFrom = (start: number, multiplier: number) => {
    for (let index = start; index < fragments.length; index++) {
      const fragment = fragments[index];
      if (fragment !== undefined) fragment.weight *= multiplier;
    }
  };
  const addText = (text: string) => {
    text.split(BREAK_SPLIT).forEach((part, index) => {
      if (index > 0) fragments.push({ text: BREAK_TEXT, weight: BREAK_WEIGHT });
      fragments.push({ text: part, weight: 1 });
    });
  };

  for (const match of prompt.matchAll(TOKEN)) {
    const token = match[0];
    const weightText = match[1];
    if (token.startsWith('\\')) {
      fragments.push({ text: token.slice(1), weight: 1 });
    } else if (token === '(') {
      round.push(fragments.length);
    } else if (token === '[') {
      square.push(fragments.length);
    } else if (weightText !== undefined && round.length > 0) {
      const weight = pythonFloat(weightText);
      if (weight === undefined) {
        // Read it as the lone colon, the text and the closing bracket it also is.
        addText(token.slice(0, -1));
        multiplyFrom(round.pop() ?? 0, ROUND_MULTIPLIER);
      } else {
        multiplyFrom(round.pop() ?? 0, weight);
      }
    } else if (token === ')' && round.length > 0) {
      multiplyFrom(round.pop() ?? 0, ROUND_MULTIPLIER);
    } else if (token === ']' && square.length > 0) {
      multiplyFrom(square.pop() ?? 0, SQUARE_MULTIPLIER);
    } else {
      addText(token);
    }
  }
  // Unclosed brackets reach to the end, outermost first, as A1111 applies them.
  for (const start of round) multiplyFrom(start, ROUND_MULTIPLIER);
  for (const start of square) multiplyFrom(start, SQUARE_MULTIPLIER);

  if (fragments.length === 0) return [{ text: '', weight: 1 }];
  const merged: PromptFragment[] = [];
  for (const fragment of fragments) {
    const last = merged.at(-1);
    if (last?.weight === fragment.weight) last.text += fragment.text;
    else merged.push({ ...fragment });
  }
  return merged;
}
