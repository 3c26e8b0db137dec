/**
 * Chunking as A1111's `tokenize_line` does it: 75 tokens per chunk between start and end, BREAK,
 * and the comma backtrack. A toy tokenizer (one id per letter, `,` is the comma id) makes the
 * positions easy to reason about; the real CLIP tokenizer checks the ids a model gets.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  chunkPrompt,
  parsePromptAttention,
  tokenizePrompt,
  type ChunkTokenIds,
  type PromptChunk,
} from '../../../../worker/src/diffusion/prompt/index.js';
import { ClipTokenizer } from '../../../../worker/src/diffusion/tokenizer.js';
import { sharedFixture } from '../../../helpers/shared-fixtures.js';

const IDS: ChunkTokenIds = { start: 1, end: 2, pad: 2, comma: 44 };
/** One id per non-space character: `a` is 97, `,` is 44 (the comma). */
const toy = (text: string) =>
  Array.from(text)
    .filter((char) => char !== ' ')
    .map((char) => char.codePointAt(0) ?? 0);
const chunksOf = (prompt: string, ids: ChunkTokenIds = IDS) =>
  chunkPrompt(parsePromptAttention(prompt), toy, ids);
/** The prompt tokens of a chunk, without start, end and padding. */
const body = (chunk: PromptChunk | undefined) =>
  Array.from(chunk?.inputIds ?? []).slice(1, 1 + (chunk?.tokenCount ?? 0));
const letters = (count: number, letter = 'a') => letter.repeat(count);

/**
 * Random long prompts (letters, commas, brackets, weights, BREAK) with the chunks A1111's
 * tokenize_line made of them under the toy tokenizer: each chunk's tokens as characters and its
 * weights run-length encoded.
 */
const A1111_CASES = JSON.parse(
  readFileSync(new URL('./a1111-chunk-cases.json', import.meta.url), 'utf8'),
) as { prompt: string; chunks: { tokens: string; weights: [number, number][] }[] }[];

function runLengths(weights: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const weight of weights) {
    const last = runs.at(-1);
    if (last?.[0] === weight) last[1] += 1;
    else runs.push([weight, 1]);
  }
  return runs;
}

describe('chunking a parsed prompt', () => {
  it(`matches A1111 on ${A1111_CASES.length} random long prompts`, () => {
    for (const { prompt, chunks: expected } of A1111_CASES) {
      const chunks = chunksOf(prompt);
      const described = chunks.map((chunk) => ({
        tokens: String.fromCodePoint(...body(chunk)),
        weights: runLengths(chunk.weights.slice(1, 1 + chunk.tokenCount)),
      }));
      expect(described, prompt).toEqual(expected);
      for (const chunk of chunks) {
        expect(Array.from(chunk.inputIds.slice(chunk.tokenCount + 1))).toEqual(
          new Array<number>(76 - chunk.tokenCount).fill(IDS.end),
        );
        expect(chunk.weights.slice(chunk.tokenCount + 1)).toEqual(
          new Array<number>(76 - chunk.tokenCount).fill(1),
        );
      }
    }
  });

  it('wraps each chunk of up to 75 tokens in start and end tokens, padded to 77', () => {
    const chunks = chunksOf(letters(80));
    expect(chunks).toHaveLength(2);
    expect(chunks.map((chunk) => chunk.tokenCount)).toEqual([75, 5]);
    for (const chunk of chunks) {
      expect(chunk.inputIds).toHaveLength(77);
      expect(chunk.weights).toHaveLength(77);
      expect(chunk.inputIds[0]).toBe(IDS.start);
    }
    expect(chunks[0]?.inputIds[76]).toBe(IDS.end);
    expect(Array.from(chunks[1]?.inputIds ?? []).slice(6)).toEqual(new Array(71).fill(IDS.end));
  });

  it('an empty prompt is one chunk of start, end and padding', () => {
    const [chunk, ...rest] = chunksOf('');
    expect(rest).toEqual([]);
    expect(Array.from(chunk?.inputIds ?? [])).toEqual([IDS.start, ...new Array<number>(76).fill(IDS.end)]);
    expect(chunk?.weights).toEqual(new Array(77).fill(1));
  });

  it('moves the words after a comma to the next chunk when the chunk fills within 20 tokens of it', () => {
    // Comma at index 60: the chunk fills 15 tokens later, so "b" x14 moves on with the rest.
    const chunks = chunksOf(`${letters(60)},${letters(30, 'b')}`);
    expect(chunks.map((chunk) => chunk.tokenCount)).toEqual([61, 30]);
    expect(body(chunks[0]).at(-1)).toBe(44);
    expect(body(chunks[1])).toEqual(new Array(30).fill(98));
  });

  it('backtracks exactly 20 tokens, but not 21', () => {
    expect(chunksOf(`${letters(55)},${letters(30, 'b')}`).map((c) => c.tokenCount)).toEqual([56, 30]);
    expect(chunksOf(`${letters(54)},${letters(30, 'b')}`).map((c) => c.tokenCount)).toEqual([75, 10]);
  });

  it('a comma that is itself the 76th token starts the next chunk and is forgotten as a cut point', () => {
    const chunks = chunksOf(`${letters(75)},${letters(80, 'b')}`);
    expect(chunks.map((chunk) => chunk.tokenCount)).toEqual([75, 75, 6]);
    expect(body(chunks[1])[0]).toBe(44);
  });

  it('moved tokens keep their weights', () => {
    const chunks = chunksOf(`${letters(60)}, (${letters(30, 'b')}:1.5)`);
    expect(chunks[1]?.weights.slice(1, 31)).toEqual(new Array(30).fill(1.5));
    expect(chunks[0]?.weights.slice(1, 62)).toEqual(new Array(61).fill(1));
    expect(chunks[0]?.weights.slice(62)).toEqual(new Array(15).fill(1));
  });

  it('BREAK starts a new chunk; a leading BREAK leaves an empty chunk, a trailing one adds none', () => {
    expect(chunksOf('abc BREAK de').map(body)).toEqual([
      [97, 98, 99],
      [100, 101],
    ]);
    expect(chunksOf('BREAK ab').map((chunk) => chunk.tokenCount)).toEqual([0, 2]);
    expect(chunksOf('ab BREAK').map((chunk) => chunk.tokenCount)).toEqual([2]);
  });

  it('without a comma id there is no backtrack', () => {
    const chunks = chunksOf(`${letters(60)},${letters(30, 'b')}`, { ...IDS, comma: undefined });
    expect(chunks.map((chunk) => chunk.tokenCount)).toEqual([75, 16]);
  });

  it('pads after the first end token with the pad id (SD 2.x), keeping the end token', () => {
    const [chunk] = chunksOf('abc', { ...IDS, pad: 0 });
    expect(Array.from(chunk?.inputIds ?? []).slice(0, 6)).toEqual([1, 97, 98, 99, 2, 0]);
    expect(Array.from(chunk?.inputIds ?? []).slice(5)).toEqual(new Array(72).fill(0));
  });
});

const tinySdTokenizer = sharedFixture('tiny-sd/tokenizer');

describe.skipIf(!tinySdTokenizer.available)(
  `prompts with the CLIP tokenizer${tinySdTokenizer.skipNote}`,
  () => {
    let tokenizer: ClipTokenizer;
    beforeAll(async () => {
      tokenizer = await ClipTokenizer.fromDirectory(tinySdTokenizer.path);
    });

    it('a prompt without syntax of at most 75 tokens is the same single chunk under both syntaxes', () => {
      for (const prompt of ['a photo of a cat', '', 'lighthouse, dusk, oil painting: moody']) {
        const a1111 = tokenizePrompt(tokenizer, prompt, 'a1111');
        const plain = tokenizePrompt(tokenizer, prompt, 'plain');
        expect(a1111.chunks).toHaveLength(1);
        expect(Array.from(a1111.chunks[0]?.inputIds ?? [])).toEqual(
          Array.from(tokenizer.encode(prompt).inputIds),
        );
        expect(a1111.chunks[0]?.weights).toEqual(plain.chunks[0]?.weights);
        expect(a1111.tokenCount).toBe(plain.tokenCount);
      }
    });

    it('weights each token of a fragment, tokenizing fragments apart', () => {
      const { chunks } = tokenizePrompt(tokenizer, '(masterpiece:1.2), best quality, [blurry]', 'a1111');
      const ids = Array.from(chunks[0]?.inputIds ?? []);
      const words = ['masterpiece', ',', 'best', 'quality', ',', 'blurry'].map((word) =>
        tokenizer.tokenIds(word),
      );
      expect(ids.slice(1, 1 + words.flat().length)).toEqual(words.flat());
      const weights = chunks[0]?.weights ?? [];
      expect(weights.slice(0, 1 + words.flat().length + 1)).toEqual([
        1,
        ...words[0]!.map(() => 1.2),
        ...words
          .slice(1, 5)
          .flat()
          .map(() => 1),
        ...words[5]!.map(() => 1 / 1.1),
        1,
      ]);
    });

    it('keeps at most 3 chunks and counts the tokens it cut', () => {
      const prompt = Array.from({ length: 120 }, (_, index) => `cat${index % 10}`).join(' ');
      const all = tokenizePrompt(tokenizer, prompt, 'a1111', 10);
      expect(all.chunks.length).toBeGreaterThan(3);
      const cut = tokenizePrompt(tokenizer, prompt, 'a1111');
      expect(cut.chunks).toHaveLength(3);
      expect(cut.tokenCount).toBe(all.tokenCount);
      const kept = cut.chunks.reduce((sum, chunk) => sum + chunk.tokenCount, 0);
      expect(cut.droppedTokens).toBe(all.tokenCount - kept);
      expect(cut.droppedTokens).toBeGreaterThan(0);
      // plain cuts at 75 tokens, as the reference pipeline does.
      const plain = tokenizePrompt(tokenizer, prompt, 'plain');
      expect(plain.chunks).toHaveLength(1);
      expect(plain.droppedTokens).toBe(plain.tokenCount - 75);
    });
  },
);
