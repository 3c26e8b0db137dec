/**
 * Text encoding: prompt chunks -> CLIP hidden states, the conditioning the UNet attends to. Every
 * chunk of both prompts goes through the encoder in one batch; a prompt with several chunks gets
 * their outputs one after another (`[77 * chunks, D]`), and the shorter prompt is padded with
 * empty chunks so both have the same length, as A1111 pads them.
 */
import { SdbotError } from '@sdbot/shared';
import type { InferenceModel } from '../backend/types.js';
import { applyEmphasis } from '../prompt/emphasis.js';
import type { PromptChunk, PromptTokens } from '../prompt/index.js';

export interface TextEmbeddings {
  /** `[S, D]` float32 per prompt. */
  positive: Float32Array;
  /** Absent when guidance is off: the unconditional pass is skipped entirely. */
  negative: Float32Array | undefined;
  sequenceLength: number;
  hiddenSize: number;
}

function padded(prompt: Pick<PromptTokens, 'chunks'>, count: number, padding: PromptChunk): PromptChunk[] {
  return [...prompt.chunks, ...Array.from({ length: count - prompt.chunks.length }, () => padding)];
}

/**
 * Encodes the prompt and, with classifier-free guidance, the negative prompt, in one call (the
 * negative prompt's chunks first, as the reference concatenates them), then applies each chunk's
 * weights. One chunk each is exactly the reference's batch of two.
 */
export async function encodePromptChunks(
  textEncoder: InferenceModel,
  positive: Pick<PromptTokens, 'chunks'>,
  negative: Pick<PromptTokens, 'chunks'> | undefined,
  padding: PromptChunk,
  minChunks = 1,
): Promise<TextEmbeddings> {
  const chunkCount = Math.max(positive.chunks.length, negative?.chunks.length ?? 0, minChunks);
  const groups = negative === undefined ? [positive] : [negative, positive];
  const rows = groups.flatMap((prompt) => padded(prompt, chunkCount, padding));
  const chunkLength = padding.inputIds.length;
  const ids = new Int32Array(rows.length * chunkLength);
  rows.forEach((row, index) => {
    ids.set(row.inputIds, index * chunkLength);
  });
  const { last_hidden_state: hidden } = await textEncoder.run(
    { input_ids: { dtype: 'int32', data: ids, dims: [rows.length, chunkLength] } },
    ['last_hidden_state'],
  );
  if (
    hidden?.dtype !== 'float32' ||
    hidden.dims.length !== 3 ||
    hidden.dims[0] !== rows.length ||
    hidden.dims[1] !== chunkLength
  ) {
    throw new SdbotError(
      'INFERENCE_FAILED',
      `${textEncoder.file}: last_hidden_state has shape [${hidden?.dims.join(', ') ?? ''}], expected [${rows.length}, ${chunkLength}, D]`,
    );
  }
  const hiddenSize = hidden.dims[2] ?? 0;
  const chunkSize = chunkLength * hiddenSize;
  const promptSize = chunkCount * chunkSize;
  const group = (index: number) => {
    const data = hidden.data.slice(index * promptSize, (index + 1) * promptSize);
    rows.slice(index * chunkCount, (index + 1) * chunkCount).forEach((row, chunk) => {
      applyEmphasis(data.subarray(chunk * chunkSize, (chunk + 1) * chunkSize), row.weights);
    });
    return data;
  };
  const sequenceLength = chunkCount * chunkLength;
  return negative === undefined
    ? { positive: group(0), negative: undefined, sequenceLength, hiddenSize }
    : { positive: group(1), negative: group(0), sequenceLength, hiddenSize };
}

/** One chunk of ids per prompt, all of weight 1: the reference pipeline's encoding. */
export async function encodeText(
  textEncoder: InferenceModel,
  positiveIds: Int32Array,
  negativeIds: Int32Array | undefined,
): Promise<TextEmbeddings> {
  const chunk = (inputIds: Int32Array): PromptChunk => ({
    inputIds,
    weights: new Array<number>(inputIds.length).fill(1),
    tokenCount: 0,
  });
  return encodePromptChunks(
    textEncoder,
    { chunks: [chunk(positiveIds)] },
    negativeIds === undefined ? undefined : { chunks: [chunk(negativeIds)] },
    chunk(positiveIds),
  );
}
