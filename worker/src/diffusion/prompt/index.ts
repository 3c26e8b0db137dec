/**
 * A prompt as the text encoder takes it: chunks of 77 token ids, each id with the weight its
 * output vector is multiplied by. `plain` is the reference pipeline's single truncated chunk;
 * `a1111` is AUTOMATIC1111's attention syntax and chunking, cut to the chunks the model reads.
 */
import { LIMITS, type PromptSyntax } from '@sdbot/shared';
import type { ClipTokenizer } from '../tokenizer.js';
import { parsePromptAttention } from './attention.js';
import {
  A1111_CHUNKING,
  chunkPrompt,
  emptyChunk,
  type ChunkOptions,
  type ChunkTokenIds,
  type PromptChunk,
} from './chunks.js';

export { isBreak, parsePromptAttention, type PromptFragment } from './attention.js';
export { A1111_CHUNKING, chunkPrompt, emptyChunk, type ChunkTokenIds, type PromptChunk } from './chunks.js';

export interface PromptTokens {
  syntax: PromptSyntax;
  /** At least one chunk, at most the limit the caller gave. */
  chunks: PromptChunk[];
  /** Prompt tokens before any cut (start, end and padding excluded). */
  tokenCount: number;
  /** Prompt tokens in the chunks (or, for plain, past the 75th token) the model never reads. */
  droppedTokens: number;
}

export function chunkTokenIds(tokenizer: ClipTokenizer): ChunkTokenIds {
  return {
    start: tokenizer.startId,
    end: tokenizer.endId,
    pad: tokenizer.padId,
    comma: tokenizer.vocabularyId(',</w>'),
  };
}

/** A1111's chunking for this tokenizer's window (75 tokens for CLIP's 77). */
function chunking(tokenizer: ClipTokenizer): ChunkOptions {
  return { ...A1111_CHUNKING, chunkLength: tokenizer.maxLength - 2 };
}

/** The empty chunk A1111 pads the shorter of prompt and negative prompt with. */
export function paddingChunk(tokenizer: ClipTokenizer): PromptChunk {
  return emptyChunk(chunkTokenIds(tokenizer), chunking(tokenizer));
}

/**
 * Tokenizes a prompt under a syntax. `maxChunks` caps A1111 prompts (LIMITS.promptMaxChunks by
 * default, fewer for an export whose UNet takes a shorter sequence).
 */
export function tokenizePrompt(
  tokenizer: ClipTokenizer,
  prompt: string,
  syntax: PromptSyntax,
  maxChunks: number = LIMITS.promptMaxChunks,
): PromptTokens {
  if (syntax === 'plain') {
    const encoded = tokenizer.encode(prompt);
    const tokenCount = encoded.untruncatedLength - encoded.droppedTokens;
    return {
      syntax,
      chunks: [
        { inputIds: encoded.inputIds, weights: new Array<number>(tokenizer.maxLength).fill(1), tokenCount },
      ],
      tokenCount: encoded.untruncatedLength,
      droppedTokens: encoded.droppedTokens,
    };
  }
  const chunks = chunkPrompt(
    parsePromptAttention(prompt),
    (text) => tokenizer.tokenIds(text),
    chunkTokenIds(tokenizer),
    chunking(tokenizer),
  );
  const kept = chunks.slice(0, Math.max(1, maxChunks));
  const count = (list: readonly PromptChunk[]) => list.reduce((sum, chunk) => sum + chunk.tokenCount, 0);
  return {
    syntax,
    chunks: kept,
    tokenCount: count(chunks),
    droppedTokens: count(chunks) - count(kept),
  };
}
