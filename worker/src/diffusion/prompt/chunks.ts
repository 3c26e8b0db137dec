/**
 * Splits a parsed prompt into chunks the CLIP text encoder can take, the way A1111's
 * `tokenize_line` does: 75 prompt tokens per chunk between start and end tokens (77 ids), a new
 * chunk at every BREAK, and the comma backtrack: when a chunk fills up within `commaBacktrack`
 * tokens after a comma, the tokens after that comma move to the next chunk so a phrase is not
 * split between two encoder passes.
 */
import { isBreak, type PromptFragment } from './attention.js';

export interface ChunkTokenIds {
  start: number;
  end: number;
  /** Padding after the first end token: the end token on SD 1.x, `!` on SD 2.x. */
  pad: number;
  /** `,</w>`, or undefined when the vocabulary has none (no backtrack then). */
  comma: number | undefined;
}

export interface ChunkOptions {
  /** Prompt tokens per chunk (75 for CLIP's 77-token window). */
  chunkLength: number;
  /** How far after a comma a full chunk may be cut back to it; 0 turns the backtrack off. */
  commaBacktrack: number;
}

export interface PromptChunk {
  /** `chunkLength + 2` ids: start, the chunk's tokens, end, padding. */
  inputIds: Int32Array;
  /** One weight per id; start, end and padding weigh 1. */
  weights: number[];
  /** Prompt tokens in this chunk (the rest is padding). */
  tokenCount: number;
}

export const A1111_CHUNKING: ChunkOptions = { chunkLength: 75, commaBacktrack: 20 };

/** The chunk A1111 fills in for a missing one: start, then end tokens, all of weight 1. */
export function emptyChunk(ids: ChunkTokenIds, options: ChunkOptions = A1111_CHUNKING): PromptChunk {
  return finishChunk([], [], ids, options.chunkLength);
}

function finishChunk(
  tokens: readonly number[],
  weights: readonly number[],
  ids: ChunkTokenIds,
  chunkLength: number,
): PromptChunk {
  const inputIds = new Int32Array(chunkLength + 2).fill(ids.end);
  const chunkWeights = new Array<number>(chunkLength + 2).fill(1);
  inputIds[0] = ids.start;
  tokens.forEach((token, index) => {
    inputIds[index + 1] = token;
    chunkWeights[index + 1] = weights[index] ?? 1;
  });
  // What follows the first end token is padding (only differs from the end token on SD 2.x).
  const firstEnd = inputIds.indexOf(ids.end);
  if (firstEnd >= 0) inputIds.fill(ids.pad, firstEnd + 1);
  return { inputIds, weights: chunkWeights, tokenCount: tokens.length };
}

/**
 * The chunks of a parsed prompt, every one of them (the caller decides how many the model reads).
 * `tokenize` gives the BPE ids of a fragment's text, without start and end tokens.
 */
export function chunkPrompt(
  fragments: readonly PromptFragment[],
  tokenize: (text: string) => readonly number[],
  ids: ChunkTokenIds,
  options: ChunkOptions = A1111_CHUNKING,
): PromptChunk[] {
  const { chunkLength, commaBacktrack } = options;
  const chunks: PromptChunk[] = [];
  let tokens: number[] = [];
  let weights: number[] = [];
  let lastComma = -1;
  const nextChunk = () => {
    chunks.push(finishChunk(tokens, weights, ids, chunkLength));
    tokens = [];
    weights = [];
    lastComma = -1;
  };

  for (const fragment of fragments) {
    if (isBreak(fragment)) {
      nextChunk();
      continue;
    }
    for (const token of tokenize(fragment.text)) {
      if (token === ids.comma) {
        lastComma = tokens.length;
      } else if (
        commaBacktrack !== 0 &&
        tokens.length === chunkLength &&
        lastComma !== -1 &&
        tokens.length - lastComma <= commaBacktrack
      ) {
        const cut = lastComma + 1;
        const movedTokens = tokens.slice(cut);
        const movedWeights = weights.slice(cut);
        tokens = tokens.slice(0, cut);
        weights = weights.slice(0, cut);
        nextChunk();
        tokens = movedTokens;
        weights = movedWeights;
      }
      if (tokens.length === chunkLength) nextChunk();
      tokens.push(token);
      weights.push(fragment.weight);
    }
  }
  if (tokens.length > 0 || chunks.length === 0) nextChunk();
  return chunks;
}
