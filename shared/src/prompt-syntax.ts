/**
 * How a worker reads a prompt. `a1111`: AUTOMATIC1111's attention syntax (`(word:1.2)`, `[word]`,
 * BREAK) and prompts of up to three 75-token chunks; `plain`: the text as is, cut at CLIP's 77
 * tokens, as diffusers does. The worker parses and encodes; this module only names the choices and
 * spots the A1111 constructs sdbot leaves as text, so the bot and the CLI can say so.
 */
import { LIMITS } from './limits.js';

export const PROMPT_SYNTAXES = ['a1111', 'plain'] as const;
export type PromptSyntax = (typeof PROMPT_SYNTAXES)[number];

/** What `/imagine`, `sdbot generate` and `sdbot imagine` use unless told otherwise. */
export const DEFAULT_PROMPT_SYNTAX: PromptSyntax = 'a1111';

/** Prompt editing `[from:to:when]` / `[to:when]` / `[from::when]`, `when` a number. */
const PROMPT_EDITING = /\[[^[\]]*:\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*\]/;
const ALTERNATION = /\[[^[\]]*\|[^[\]]*\]/;
/** A1111's extra networks: `<lora:name:0.8>`, `<hypernet:name:1>`, `<lyco:...>`. */
const EXTRA_NETWORK = /<\w+:[^>]+>/;
const COMPOSABLE_AND = /\bAND\b/;
/** Plain emphasis brackets with no `:` or `|`, removed to reach the constructs they enclose. */
const INNER_SQUARE = /\[([^[\]:|]*)\]/g;

/**
 * The A1111 constructs in a prompt that sdbot does not run (they stay text), named for a notice,
 * e.g. `prompt editing [from:to:when]`. Escaped characters (`\[`) are text and never count.
 */
export function unsupportedPromptConstructs(prompt: string): string[] {
  let text = prompt.replace(/\\./gsu, ' ');
  for (let previous = ''; previous !== text;) {
    previous = text;
    if (!PROMPT_EDITING.test(text) && !ALTERNATION.test(text)) text = text.replace(INNER_SQUARE, ' $1 ');
  }
  const found: string[] = [];
  if (PROMPT_EDITING.test(text)) found.push('prompt editing [from:to:when]');
  if (ALTERNATION.test(text)) found.push('alternation [a|b]');
  if (EXTRA_NETWORK.test(prompt)) found.push('extra networks <lora:...>');
  if (COMPOSABLE_AND.test(text)) found.push('AND');
  return found;
}

/** The user-facing sentence for `unsupportedPromptConstructs`, or undefined when there are none. */
export function unsupportedPromptNotice(prompt: string, syntax: PromptSyntax): string | undefined {
  if (syntax !== 'a1111') return undefined;
  const found = unsupportedPromptConstructs(prompt);
  if (found.length === 0) return undefined;
  return `Not supported here, read as plain text: ${found.join(', ')}.`;
}

/** The sentence saying how much of a prompt the model never read. */
export function promptCutNotice(
  what: 'prompt' | 'negative prompt',
  droppedTokens: number,
  syntax: PromptSyntax,
  chunkLimit: number = LIMITS.promptMaxChunks,
): string {
  const window =
    syntax === 'plain'
      ? `The model reads ${LIMITS.tokenizerMaxLength} tokens`
      : `The model reads at most ${chunkLimit} chunk${chunkLimit === 1 ? '' : 's'} of ${LIMITS.promptChunkTokens} tokens`;
  return `${window}; the last ${droppedTokens} of this ${what} were ignored.`;
}
