/** Text encoding: token ids -> CLIP hidden states, the conditioning the UNet attends to. */
import type { InferenceModel } from '../backend/types.js';
import { SdbotError } from '@sdbot/shared';

export interface TextEmbeddings {
  /** `[S, D]` float32 per prompt. */
  positive: Float32Array;
  /** Absent when guidance is off: the unconditional pass is skipped entirely. */
  negative: Float32Array | undefined;
  sequenceLength: number;
  hiddenSize: number;
}

/**
 * Encodes the prompt and, with classifier-free guidance, the negative prompt, in one call of batch
 * 2 (negative first, as the reference concatenates them).
 */
export async function encodeText(
  textEncoder: InferenceModel,
  positiveIds: Int32Array,
  negativeIds: Int32Array | undefined,
): Promise<TextEmbeddings> {
  const rows = negativeIds === undefined ? [positiveIds] : [negativeIds, positiveIds];
  const sequenceLength = positiveIds.length;
  const ids = new Int32Array(rows.length * sequenceLength);
  rows.forEach((row, index) => {
    ids.set(row, index * sequenceLength);
  });
  const { last_hidden_state: hidden } = await textEncoder.run(
    { input_ids: { dtype: 'int32', data: ids, dims: [rows.length, sequenceLength] } },
    ['last_hidden_state'],
  );
  if (hidden?.dtype !== 'float32' || hidden.dims.length !== 3 || hidden.dims[1] !== sequenceLength) {
    throw new SdbotError(
      'INFERENCE_FAILED',
      `${textEncoder.file}: last_hidden_state has shape [${hidden?.dims.join(', ') ?? ''}], expected [${rows.length}, ${sequenceLength}, D]`,
    );
  }
  const hiddenSize = hidden.dims[2] ?? 0;
  const rowSize = sequenceLength * hiddenSize;
  const row = (index: number) => hidden.data.slice(index * rowSize, (index + 1) * rowSize);
  return negativeIds === undefined
    ? { positive: row(0), negative: undefined, sequenceLength, hiddenSize }
    : { positive: row(1), negative: row(0), sequenceLength, hiddenSize };
}
