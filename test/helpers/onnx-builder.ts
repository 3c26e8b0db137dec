/**
 * Writes tiny ONNX models by hand (protobuf encoding of ModelProto), so backend tests can exercise
 * what no fixture has: float16 tensors, int64 inputs, rank-0 scalars, any input names.
 */

type Bytes = number[];

function varint(value: number | bigint): Bytes {
  let rest = BigInt(value);
  const out: Bytes = [];
  do {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest === 0n ? byte : byte | 0x80);
  } while (rest !== 0n);
  return out;
}

const key = (field: number, wireType: 0 | 2) => varint((field << 3) | wireType);
const integerField = (field: number, value: number) => [...key(field, 0), ...varint(value)];
const bytesField = (field: number, bytes: Bytes) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const stringField = (field: number, text: string) => bytesField(field, [...Buffer.from(text, 'utf8')]);

/** ONNX TensorProto.DataType values. */
export const ONNX_TYPES = { float32: 1, int32: 6, int64: 7, bool: 9, float16: 10 } as const;

export interface PortSpec {
  name: string;
  type: keyof typeof ONNX_TYPES;
  /** Numbers are fixed sizes, strings symbolic ones; [] is a scalar. */
  shape: (number | string)[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  /** Integer attributes (e.g. Cast's `to`). */
  intAttributes?: Record<string, number>;
}

function valueInfo(port: PortSpec): Bytes {
  const dims = port.shape.flatMap((dim) =>
    bytesField(1, typeof dim === 'number' ? integerField(1, dim) : stringField(2, dim)),
  );
  const tensorType = [...integerField(1, ONNX_TYPES[port.type]), ...bytesField(2, dims)];
  return [...stringField(1, port.name), ...bytesField(2, bytesField(1, tensorType))];
}

function node(spec: NodeSpec, index: number): Bytes {
  const attributes = Object.entries(spec.intAttributes ?? {}).flatMap(([name, value]) =>
    // AttributeProto: name = 1, i = 3, type = 20 (INT = 2).
    bytesField(5, [...stringField(1, name), ...integerField(3, value), ...integerField(20, 2)]),
  );
  return [
    ...spec.inputs.flatMap((input) => stringField(1, input)),
    ...spec.outputs.flatMap((output) => stringField(2, output)),
    ...stringField(3, `${spec.op}_${index}`),
    ...stringField(4, spec.op),
    ...attributes,
  ];
}

/** A serialized ModelProto (IR 8, opset 13) with the given graph. */
export function buildOnnxModel(inputs: PortSpec[], outputs: PortSpec[], nodes: NodeSpec[]): Uint8Array {
  const graph = [
    ...nodes.flatMap((spec, index) => bytesField(1, node(spec, index))),
    ...stringField(2, 'test-graph'),
    ...inputs.flatMap((port) => bytesField(11, valueInfo(port))),
    ...outputs.flatMap((port) => bytesField(12, valueInfo(port))),
  ];
  const opset = [...stringField(1, ''), ...integerField(2, 13)];
  return Uint8Array.from([
    ...integerField(1, 8),
    ...stringField(2, 'sdbot-tests'),
    ...bytesField(7, graph),
    ...bytesField(8, opset),
  ]);
}
