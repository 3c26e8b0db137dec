/**
 * A1111 prompts through tiny-sd's real text encoder and UNet: weighted and chunked embeddings
 * against a reference computed here from the encoder's raw output, exactness of plain prompts
 * under both syntaxes, and a whole generation from a 150-token weighted prompt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StableDiffusionModel } from '../../worker/src/diffusion/model.js';
import type { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { paddingChunk, tokenizePrompt } from '../../worker/src/diffusion/prompt/index.js';
import { encodePromptChunks, encodeText } from '../../worker/src/diffusion/stages/text-encoder.js';
import { pixelDiff } from '../helpers/images.js';
import { catRequest, loadTinySd, loadTinySdModel, tinySd } from '../helpers/tiny-sd.js';

const START = 49406;
const END = 49407;
const WIDTH = 32;
const CHUNK = 77;

/** 150 CLIP tokens (chunks of 75, 71 and 4 after the BREAK) with every kind of weight. */
const LONG_WEIGHTED = [
  '(masterpiece:1.3), best quality, ((lighthouse)) on a cliff at dusk',
  ...Array.from({ length: 14 }, (_, index) => `[fog ${index}], (waves:0.8), oil painting ${index}`),
  'BREAK gulls over the sea',
].join(', ');

/** The encoder's raw output for chunks of ids, run as one batch in this order. */
async function rawRows(model: StableDiffusionModel, rows: readonly Int32Array[]): Promise<Float32Array[]> {
  const ids = new Int32Array(rows.length * CHUNK);
  rows.forEach((row, index) => {
    ids.set(row, index * CHUNK);
  });
  const { last_hidden_state: hidden } = await model.textEncoder.run(
    { input_ids: { dtype: 'int32', data: ids, dims: [rows.length, CHUNK] } },
    ['last_hidden_state'],
  );
  if (hidden?.dtype !== 'float32') throw new Error('the text encoder did not return float32');
  const data = hidden.data;
  return rows.map((_, index) =>
    Float32Array.from(data.subarray(index * CHUNK * WIDTH, (index + 1) * CHUNK * WIDTH)),
  );
}

/**
 * A1111's Original emphasis step by step in float32, as its tensors compute it: multiply each
 * token's vector by its weight, then scale the chunk by old mean / new mean.
 */
function emphasised(raw: Float32Array, weights: readonly number[]): Float32Array {
  const mean = (values: Float32Array) =>
    Math.fround(values.reduce((sum, value) => sum + value, 0) / values.length);
  const weighted = raw.map((value, index) =>
    Math.fround(value * Math.fround(weights[Math.floor(index / WIDTH)]!)),
  );
  const scale = Math.fround(mean(raw) / mean(weighted));
  return weighted.map((value) => Math.fround(value * scale));
}

/** The one factor relating `output` to the raw output times each token's weight (NaN if none does). */
function commonScale(output: Float32Array, raw: Float32Array, weights: readonly number[]): number {
  const ratios = Array.from(
    output,
    (value, index) => value / (raw[index]! * weights[Math.floor(index / WIDTH)]!),
  );
  const first = ratios[0]!;
  return ratios.every((ratio) => Math.abs(ratio - first) <= 1e-5 * Math.abs(first)) ? first : Number.NaN;
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe.skipIf(!tinySd.available)(`A1111 prompts on tiny-sd${tinySd.skipNote}`, () => {
  let model: StableDiffusionModel;
  let pipeline: StableDiffusionPipeline;
  beforeAll(async () => {
    model = await loadTinySdModel({ safetyChecker: false });
    pipeline = await loadTinySd({ safetyChecker: false });
  });
  afterAll(async () => {
    await model.release();
    await pipeline.release();
  });

  it('the UNet of the fixture takes encoder_hidden_states longer than 77 (no fixed sequence length)', () => {
    expect(model.fixedPromptChunks).toBeUndefined();
  });

  it('a weighted prompt: the ids and weights A1111 gives, and the weighted, mean-restored encoder output', async () => {
    const tokens = tokenizePrompt(model.tokenizer, 'a (red:1.5) [fox]', 'a1111');
    const [a, red, fox] = ['a', 'red', 'fox'].map((word) => model.tokenizer.tokenIds(word)[0]!);
    expect(Array.from(tokens.chunks[0]!.inputIds)).toEqual([
      START,
      a,
      red,
      fox,
      END,
      ...new Array<number>(72).fill(END),
    ]);
    expect(tokens.chunks[0]!.weights).toEqual([1, 1, 1.5, 1 / 1.1, ...new Array<number>(73).fill(1)]);

    const embeddings = await encodePromptChunks(
      model.textEncoder,
      tokens,
      undefined,
      paddingChunk(model.tokenizer),
    );
    expect(embeddings.sequenceLength).toBe(CHUNK);
    const chunk = tokens.chunks[0]!;
    const [raw] = await rawRows(model, [chunk.inputIds]);
    expect(embeddings.positive).toEqual(emphasised(raw!, chunk.weights));
    // Every token's vector is its raw vector times its weight, all scaled by one factor.
    expect(commonScale(embeddings.positive, raw!, chunk.weights)).not.toBeNaN();
    expect(commonScale(embeddings.positive, raw!, new Array<number>(CHUNK).fill(1))).toBeNaN();
  });

  it('a long prompt: chunks encoded in one batch, each weighted, placed one after another; the negative padded with empty chunks', async () => {
    const positive = tokenizePrompt(model.tokenizer, LONG_WEIGHTED, 'a1111');
    const negative = tokenizePrompt(model.tokenizer, 'blurry, (text:1.2)', 'a1111');
    expect(positive.chunks.length).toBe(3);
    expect(positive.droppedTokens).toBe(0);
    expect(negative.chunks.length).toBe(1);

    const padding = paddingChunk(model.tokenizer);
    const embeddings = await encodePromptChunks(model.textEncoder, positive, negative, padding);
    expect(embeddings.sequenceLength).toBe(3 * CHUNK);
    expect(embeddings.positive).toHaveLength(3 * CHUNK * WIDTH);
    expect(embeddings.negative).toHaveLength(3 * CHUNK * WIDTH);

    const rows = [...negative.chunks, padding, padding, ...positive.chunks];
    const raw = await rawRows(
      model,
      rows.map((row) => row.inputIds),
    );
    const part = (data: Float32Array, index: number) =>
      data.subarray(index * CHUNK * WIDTH, (index + 1) * CHUNK * WIDTH);
    for (const [index, chunk] of positive.chunks.entries()) {
      expect(part(embeddings.positive, index), `chunk ${index}`).toEqual(
        emphasised(raw[3 + index]!, chunk.weights),
      );
    }
    const negativeEmbeddings = embeddings.negative!;
    expect(part(negativeEmbeddings, 0)).toEqual(emphasised(raw[0]!, negative.chunks[0]!.weights));
    // The padding is the empty prompt's encoding, as A1111 pads the shorter prompt.
    const [empty] = await rawRows(model, [model.tokenizer.encode('').inputIds]);
    expect(maxDifference(part(negativeEmbeddings, 1), empty!)).toBeLessThan(1e-5);
    expect(part(negativeEmbeddings, 2)).toEqual(part(negativeEmbeddings, 1));
  });

  it('a prompt without syntax of at most 75 tokens: bit-identical embeddings and images under both syntaxes', async () => {
    const padding = paddingChunk(model.tokenizer);
    for (const [prompt, negativePrompt] of [
      ['a photo of a cat', ''],
      ['lighthouse at dusk, oil painting: moody', 'blurry, low quality'],
    ] as const) {
      const reference = await encodeText(
        model.textEncoder,
        model.tokenizer.encode(prompt).inputIds,
        model.tokenizer.encode(negativePrompt).inputIds,
      );
      for (const syntax of ['a1111', 'plain'] as const) {
        const embeddings = await encodePromptChunks(
          model.textEncoder,
          tokenizePrompt(model.tokenizer, prompt, syntax),
          tokenizePrompt(model.tokenizer, negativePrompt, syntax),
          padding,
        );
        expect(embeddings.positive).toEqual(reference.positive);
        expect(embeddings.negative).toEqual(reference.negative);
      }
    }
    const a1111 = await pipeline.generate({ ...catRequest, syntax: 'a1111' });
    const plain = await pipeline.generate({ ...catRequest, syntax: 'plain' });
    expect(a1111.images[0]!.pixels).toEqual(plain.images[0]!.pixels);
    expect(a1111.truncatedTokens).toBe(0);
  });

  it('generates from a 150-token weighted prompt: nothing cut, and every chunk and weight counts', async () => {
    const count = tokenizePrompt(model.tokenizer, LONG_WEIGHTED, 'a1111').tokenCount;
    expect(count).toBe(150);
    const request = { ...catRequest, prompt: LONG_WEIGHTED, negativePrompt: 'blurry', steps: 6 };
    const long = await pipeline.generate({ ...request, syntax: 'a1111' });
    expect(long.truncatedTokens).toBe(0);
    expect(long.promptChunkLimit).toBe(3);
    expect(long.images[0]!.pixels).toHaveLength(64 * 64 * 3);
    const again = await pipeline.generate({ ...request, syntax: 'a1111' });
    expect(again.images[0]!.pixels).toEqual(long.images[0]!.pixels);

    // plain cuts the same prompt at 75 tokens; without its weights A1111 reads other text.
    const plain = await pipeline.generate({ ...request, syntax: 'plain' });
    expect(plain.truncatedTokens).toBe(model.tokenizer.encode(LONG_WEIGHTED).droppedTokens);
    expect(plain.truncatedTokens).toBeGreaterThan(0);
    expect(plain.promptChunkLimit).toBeUndefined();
    const unweighted = await pipeline.generate({
      ...request,
      prompt: LONG_WEIGHTED.replace(/[()[\]]|:[\d.]+/g, ''),
      syntax: 'a1111',
    });
    expect(pixelDiff(long.images[0]!.pixels, plain.images[0]!.pixels).mean).toBeGreaterThan(0);
    expect(pixelDiff(long.images[0]!.pixels, unweighted.images[0]!.pixels).mean).toBeGreaterThan(0);
  });

  it('a prompt past 3 chunks is cut there and says how many tokens were dropped', async () => {
    const prompt = Array.from({ length: 60 }, (_, index) => `tower${index} by the sea`).join(', ');
    const all = tokenizePrompt(model.tokenizer, prompt, 'a1111', 10);
    const result = await pipeline.generate({ ...catRequest, prompt, steps: 2, syntax: 'a1111' });
    const kept = all.chunks.slice(0, 3).reduce((sum, chunk) => sum + chunk.tokenCount, 0);
    expect(result.truncatedTokens).toBe(all.tokenCount - kept);
    expect(result.truncatedTokens).toBeGreaterThan(0);
  });

  it('an empty prompt is valid: unconditional generation', async () => {
    const result = await pipeline.generate({ ...catRequest, prompt: '', steps: 2 });
    expect(result.images[0]!.pixels).toHaveLength(64 * 64 * 3);
  });
});
