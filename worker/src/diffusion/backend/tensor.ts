/**
 * The backend-neutral tensor the pipeline passes around: a typed array, its dimensions and dtype.
 * The pipeline computes in float32 and int32; `castTensor` adapts a tensor to whatever dtype a model
 * declares (float16 halves, int64 ids and timesteps) at the session boundary.
 */
import { SdbotError } from '@sdbot/shared';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';

export interface TensorDataByType {
  float32: Float32Array;
  /** IEEE half bit patterns. */
  float16: Uint16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

export type TensorDtype = keyof TensorDataByType;

export const TENSOR_DTYPES: readonly TensorDtype[] = ['float32', 'float16', 'int32', 'int64', 'bool'];

export interface TypedTensor<D extends TensorDtype> {
  readonly dtype: D;
  readonly data: TensorDataByType[D];
  readonly dims: readonly number[];
}

export type Tensor = { [D in TensorDtype]: TypedTensor<D> }[TensorDtype];

export type Float32Tensor = TypedTensor<'float32'>;

export function isTensorDtype(value: string): value is TensorDtype {
  return (TENSOR_DTYPES as readonly string[]).includes(value);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1);
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): Float32Tensor {
  if (data.length !== elementCount(dims)) {
    throw new SdbotError(
      'INTERNAL',
      `tensor of shape [${dims.join(', ')}] needs ${elementCount(dims)} values, got ${data.length}`,
    );
  }
  return { dtype: 'float32', data, dims };
}

function toNumbers(tensor: Tensor): Float32Array | Int32Array | Uint8Array | number[] {
  switch (tensor.dtype) {
    case 'float16':
      return float16ToFloat32(tensor.data);
    case 'int64':
      return Array.from(tensor.data, Number);
    default:
      return tensor.data;
  }
}

/**
 * Converts a tensor to another dtype. Floats become integers by truncation toward zero, the way
 * numpy's `astype(int64)` turns the reference's fractional timesteps into an int64 model's input.
 */
export function castTensor(tensor: Tensor, dtype: TensorDtype): Tensor {
  if (tensor.dtype === dtype) return tensor;
  const { dims } = tensor;
  if (tensor.dtype === 'float32' && dtype === 'float16') {
    return { dtype, data: float32ToFloat16(tensor.data), dims };
  }
  const values = toNumbers(tensor);
  switch (dtype) {
    case 'float32':
      return { dtype, data: Float32Array.from(values), dims };
    case 'float16':
      return { dtype, data: float32ToFloat16(Float32Array.from(values)), dims };
    case 'int32':
      return { dtype, data: Int32Array.from(values, Math.trunc), dims };
    case 'int64':
      return { dtype, data: BigInt64Array.from(values, (value) => BigInt(Math.trunc(value))), dims };
    case 'bool':
      return { dtype, data: Uint8Array.from(values, (value) => (value === 0 ? 0 : 1)), dims };
  }
}
