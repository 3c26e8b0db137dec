/**
 * Python's `html.unescape` for the entities prompts actually contain: numeric references with
 * Python's replacement rules, and the common named ones. The CLIP reference tokenizer runs it
 * (twice) before tokenizing, so `&amp;` in a prompt reaches the model as `&`.
 */

/** Named entities; `legacy` ones are also recognised without the closing semicolon, as in HTML5. */
const NAMED_ENTITIES: Readonly<Record<string, { text: string; legacy: boolean }>> = {
  amp: { text: '&', legacy: true },
  AMP: { text: '&', legacy: true },
  lt: { text: '<', legacy: true },
  LT: { text: '<', legacy: true },
  gt: { text: '>', legacy: true },
  GT: { text: '>', legacy: true },
  quot: { text: '"', legacy: true },
  QUOT: { text: '"', legacy: true },
  nbsp: { text: '\u00a0', legacy: true },
  copy: { text: '\u00a9', legacy: true },
  COPY: { text: '\u00a9', legacy: true },
  reg: { text: '\u00ae', legacy: true },
  REG: { text: '\u00ae', legacy: true },
  deg: { text: '\u00b0', legacy: true },
  times: { text: '\u00d7', legacy: true },
  middot: { text: '\u00b7', legacy: true },
  laquo: { text: '\u00ab', legacy: true },
  raquo: { text: '\u00bb', legacy: true },
  apos: { text: "'", legacy: false },
  hellip: { text: '\u2026', legacy: false },
  mdash: { text: '\u2014', legacy: false },
  ndash: { text: '\u2013', legacy: false },
  lsquo: { text: '\u2018', legacy: false },
  rsquo: { text: '\u2019', legacy: false },
  ldquo: { text: '\u201c', legacy: false },
  rdquo: { text: '\u201d', legacy: false },
  bull: { text: '\u2022', legacy: false },
  trade: { text: '\u2122', legacy: false },
  euro: { text: '\u20ac', legacy: false },
};

/** Windows-1252 meanings HTML gives to the C1 control references &#128; to &#159;. */
const C1_REPLACEMENTS =
  '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f' +
  '\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

// Same shape as Python's: numeric (decimal or hex) or up to 32 name characters, `;` optional.
const CHARACTER_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

function isDroppedCodePoint(code: number): boolean {
  return (
    (code >= 0x1 && code <= 0x8) ||
    code === 0xb ||
    (code >= 0xe && code <= 0x1f) ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0xfdd0 && code <= 0xfdef) ||
    (code & 0xfffe) === 0xfffe
  );
}

function numericReference(body: string): string {
  const digits = body.replace(/;$/, '');
  const code =
    digits[1] === 'x' || digits[1] === 'X' ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10);
  if (code === 0) return '\ufffd';
  if (code === 0x0d) return '\r';
  if (code >= 0x80 && code <= 0x9f) return C1_REPLACEMENTS[code - 0x80] ?? '\ufffd';
  if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\ufffd';
  if (isDroppedCodePoint(code)) return '';
  return String.fromCodePoint(code);
}

function namedReference(body: string): string {
  const name = body.endsWith(';') ? body.slice(0, -1) : body;
  const exact = NAMED_ENTITIES[name];
  if (exact !== undefined && (body.endsWith(';') || exact.legacy)) return exact.text;
  // HTML5 decodes the longest legacy name that prefixes the text (`&ampx` is `&x`).
  for (let length = body.length - 1; length > 1; length--) {
    const prefix = NAMED_ENTITIES[body.slice(0, length)];
    if (prefix?.legacy === true) return prefix.text + body.slice(length);
  }
  return `&${body}`;
}

/** Replaces HTML character references the way Python's `html.unescape` does. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARACTER_REFERENCE, (_match, body: string) =>
    body.startsWith('#') ? numericReference(body) : namedReference(body),
  );
}
