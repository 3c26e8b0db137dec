/**
 * Checks each ONNX part's declared inputs and outputs against what the pipeline feeds and reads,
 * and records where the two exporters in the wild differ (pipeline spec, section 1): int32 or int64
 * token ids, a float or int64 timestep of rank 1 or 0, a VAE encoder that samples inside the graph
 * (`latent_sample`) or returns `latent_parameters`. A mismatch fails at load, naming the file.
 */
import { SdbotError } from '@sdbot/shared';
import type { ValueInfo } from './backend/types.js';

export interface ModelSignature {
  file: string;
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

const FLOAT = ['float32', 'float16'] as const;

interface PortRule {
  name: string;
  dtypes: readonly string[];
  ranks: readonly number[];
}

function describeRule(rule: PortRule): string {
  return `${rule.name} (${rule.dtypes.join(' or ')}, rank ${rule.ranks.join(' or ')})`;
}

function describePort(port: ValueInfo): string {
  return `${port.name} (${port.dtype}, rank ${port.shape.length})`;
}

function matches(port: ValueInfo, rule: PortRule): boolean {
  return (
    port.name === rule.name && rule.dtypes.includes(port.dtype) && rule.ranks.includes(port.shape.length)
  );
}

function mismatch(
  signature: ModelSignature,
  what: string,
  expected: string,
  ports: readonly ValueInfo[],
): SdbotError {
  const found = ports.length === 0 ? 'none' : ports.map(describePort).join(', ');
  return new SdbotError(
    'MODEL_INVALID',
    `${signature.file}: expected ${what} ${expected}; the model has ${found}`,
  );
}

/** The inputs must be exactly these (the pipeline can feed nothing else). */
function checkInputs(signature: ModelSignature, rules: readonly PortRule[]): Map<string, ValueInfo> {
  const found = new Map(signature.inputs.map((port) => [port.name, port]));
  const expected = rules.map(describeRule).join(', ');
  const unexpected = signature.inputs.some((port) => !rules.some((rule) => rule.name === port.name));
  const unmatched = rules.some((rule) => {
    const port = found.get(rule.name);
    return port === undefined || !matches(port, rule);
  });
  if (unexpected || unmatched) throw mismatch(signature, 'inputs', expected, signature.inputs);
  return found;
}

/** At least one of these outputs must be present; returns the first one that is. */
function pickOutput(signature: ModelSignature, choices: readonly PortRule[]): ValueInfo {
  for (const rule of choices) {
    const port = signature.outputs.find((output) => matches(output, rule));
    if (port !== undefined) return port;
  }
  const expected = choices.map(describeRule).join(' or ');
  throw mismatch(signature, 'output', expected, signature.outputs);
}

export interface TextEncoderSignature {
  /** Width of the embeddings, when the model states it. */
  hiddenSize: number | undefined;
}

export function adaptTextEncoder(signature: ModelSignature): TextEncoderSignature {
  checkInputs(signature, [{ name: 'input_ids', dtypes: ['int32', 'int64'], ranks: [2] }]);
  const output = pickOutput(signature, [{ name: 'last_hidden_state', dtypes: FLOAT, ranks: [3] }]);
  const width = output.shape[2];
  return { hiddenSize: typeof width === 'number' ? width : undefined };
}

export interface UnetSignature {
  /** Rank 1 (`[B]` or `[1]`) in the diffusers export, a rank-0 scalar in optimum >= 1.24. */
  timestepRank: 0 | 1;
  /** Some exports fix the timestep's length to 1 instead of the batch. */
  timestepLength: 'batch' | 1;
}

export function adaptUnet(signature: ModelSignature): UnetSignature {
  const inputs = checkInputs(signature, [
    { name: 'sample', dtypes: FLOAT, ranks: [4] },
    { name: 'timestep', dtypes: [...FLOAT, 'int64', 'int32'], ranks: [0, 1] },
    { name: 'encoder_hidden_states', dtypes: FLOAT, ranks: [3] },
  ]);
  pickOutput(signature, [{ name: 'out_sample', dtypes: FLOAT, ranks: [4] }]);
  const timestep = inputs.get('timestep');
  const rank = timestep?.shape.length === 0 ? 0 : 1;
  return { timestepRank: rank, timestepLength: timestep?.shape[0] === 1 ? 1 : 'batch' };
}

export interface VaeEncoderSignature {
  /** `latent_sample`: sampled inside the graph; `latent_parameters`: concat(mean, logvar). */
  output: 'latent_sample' | 'latent_parameters';
}

export function adaptVaeEncoder(signature: ModelSignature): VaeEncoderSignature {
  checkInputs(signature, [{ name: 'sample', dtypes: FLOAT, ranks: [4] }]);
  const output = pickOutput(signature, [
    { name: 'latent_sample', dtypes: FLOAT, ranks: [4] },
    { name: 'latent_parameters', dtypes: FLOAT, ranks: [4] },
  ]);
  return { output: output.name === 'latent_parameters' ? 'latent_parameters' : 'latent_sample' };
}

export function adaptVaeDecoder(signature: ModelSignature): void {
  checkInputs(signature, [{ name: 'latent_sample', dtypes: FLOAT, ranks: [4] }]);
  pickOutput(signature, [{ name: 'sample', dtypes: FLOAT, ranks: [4] }]);
}

export function adaptSafetyChecker(signature: ModelSignature): void {
  checkInputs(signature, [
    { name: 'clip_input', dtypes: FLOAT, ranks: [4] },
    { name: 'images', dtypes: FLOAT, ranks: [4] },
  ]);
  pickOutput(signature, [{ name: 'has_nsfw_concepts', dtypes: ['bool'], ranks: [1] }]);
}
