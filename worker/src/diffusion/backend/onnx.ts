/**
 * The only module that imports onnxruntime-node: opens sessions on the configured execution
 * provider (falling back to cpu when it cannot start), reports input/output metadata, and converts
 * tensors between the pipeline's float32/int32 and what each model declares.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LOG_EVENTS, SdbotError, type ExecutionProviderName } from '@sdbot/shared';
import ort from 'onnxruntime-node';
import { castTensor, isTensorDtype, type Tensor } from './tensor.js';
import type { InferenceModel, PlainSessionSettings, SessionSettings, ValueInfo } from './types.js';

/** cuda and tensorrt hand unsupported operators to the next provider in the list. */
const PROVIDER_CHAINS: Record<ExecutionProviderName, readonly string[]> = {
  cpu: ['cpu'],
  webgpu: ['webgpu'],
  cuda: ['cuda', 'cpu'],
  tensorrt: ['tensorrt', 'cuda', 'cpu'],
};

function toValueInfo(metadata: ort.InferenceSession.ValueMetadata): ValueInfo {
  if (!metadata.isTensor) return { name: metadata.name, dtype: 'non-tensor', shape: [] };
  return { name: metadata.name, dtype: metadata.type, shape: [...metadata.shape] };
}

function toOrtTensor(tensor: Tensor): ort.Tensor {
  return new ort.Tensor(tensor.dtype, tensor.data, tensor.dims);
}

function fromOrtTensor(value: ort.OnnxValue, name: string, file: string): Tensor {
  const dtype = value.type;
  if (!isTensorDtype(dtype)) {
    throw new SdbotError('MODEL_INVALID', `${file}: output ${name} has unsupported type ${dtype}`);
  }
  // The node binding returns each output's data as the typed array matching its dtype.
  const tensor = { dtype, data: value.data, dims: [...value.dims] } as Tensor;
  return tensor.dtype === 'float16' ? castTensor(tensor, 'float32') : tensor;
}

class OnnxModel implements InferenceModel {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  private readonly inputTypes: ReadonlyMap<string, string>;

  constructor(
    readonly file: string,
    readonly provider: ExecutionProviderName,
    private readonly session: ort.InferenceSession,
  ) {
    this.inputs = session.inputMetadata.map(toValueInfo);
    this.outputs = session.outputMetadata.map(toValueInfo);
    this.inputTypes = new Map(this.inputs.map((input) => [input.name, input.dtype]));
  }

  async run(
    feeds: Readonly<Record<string, Tensor>>,
    outputNames: readonly string[] = this.outputs.map((output) => output.name),
  ): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      const declared = this.inputTypes.get(name);
      const dtype = declared !== undefined && isTensorDtype(declared) ? declared : tensor.dtype;
      ortFeeds[name] = toOrtTensor(castTensor(tensor, dtype));
    }
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(ortFeeds, outputNames);
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new SdbotError('INFERENCE_FAILED', `${this.file}: ${message}`, { cause });
    }
    const outputs: Record<string, Tensor> = {};
    for (const name of outputNames) {
      const value = results[name];
      if (value === undefined) {
        throw new SdbotError('INFERENCE_FAILED', `${this.file}: the model returned no output ${name}`);
      }
      outputs[name] = fromOrtTensor(value, name, this.file);
    }
    return outputs;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Files from 1 GiB up (SD 1.x's UNet in fp32 or fp16) are not prepacked unless configured. */
export const DEFAULT_PREPACK_MAX_BYTES = 1024 ** 3;

/**
 * A model's bytes on disk: its graph plus the external weights next to it (every part has its own
 * folder in an export, so the folder's files are the model's).
 */
async function modelBytes(file: string): Promise<number> {
  const folder = dirname(file);
  const names = await readdir(folder).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map(async (name) => (await stat(join(folder, name)).catch(() => undefined))?.size ?? 0),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

function sessionOptions(
  settings: PlainSessionSettings,
  providers: readonly string[],
  prepack: boolean,
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: providers,
    graphOptimizationLevel: settings.graphOptimization,
    ...(settings.intraOpThreads > 0 ? { intraOpNumThreads: settings.intraOpThreads } : {}),
    enableCpuMemArena: settings.cpuMemArena ?? false,
    // onnxruntime reads "session.disable_prepacking" from the flattened `extra` entries.
    ...(prepack ? {} : { extra: { session: { disable_prepacking: '1' } } }),
    // Errors only: onnxruntime's warnings about unused initializers are noise for operators.
    logSeverityLevel: 3,
  };
}

function describeFailure(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.replace(/^Load model from \S+ failed:/, '').trim();
}

/** Why a session runs on cpu rather than the provider asked for. */
export interface ProviderFallback {
  provider: ExecutionProviderName;
  reason: string;
}

/**
 * Opens one model file. External weights (weights.pb, model.onnx_data) are found next to it.
 * A provider that cannot start is reported in `fallback` and the session runs on cpu instead; a
 * file that is not a loadable ONNX model fails with MODEL_INVALID naming it.
 */
export async function openOnnxSession(
  file: string,
  settings: PlainSessionSettings,
): Promise<{ model: InferenceModel; fallback?: ProviderFallback }> {
  const { provider } = settings;
  const prepack = (await modelBytes(file)) < (settings.prepackMaxBytes ?? DEFAULT_PREPACK_MAX_BYTES);
  let fallback: ProviderFallback | undefined;
  if (provider !== 'cpu') {
    try {
      const session = await ort.InferenceSession.create(
        file,
        sessionOptions(settings, PROVIDER_CHAINS[provider], prepack),
      );
      return { model: new OnnxModel(file, provider, session) };
    } catch (cause) {
      fallback = { provider, reason: describeFailure(cause) };
    }
  }
  try {
    const session = await ort.InferenceSession.create(
      file,
      sessionOptions(settings, PROVIDER_CHAINS.cpu, prepack),
    );
    const model = new OnnxModel(file, 'cpu', session);
    return fallback === undefined ? { model } : { model, fallback };
  } catch (cause) {
    throw new SdbotError(
      'MODEL_INVALID',
      `${file}: cannot be loaded as an ONNX model (${describeFailure(cause)})`,
      {
        cause,
      },
    );
  }
}

export function logFallback(settings: SessionSettings, file: string, fallback: ProviderFallback): void {
  settings.logger?.warn(
    { file, provider: fallback.provider, fallback: 'cpu', reason: fallback.reason },
    LOG_EVENTS.provider.fallback,
  );
}

/** Opens one model file in this thread (see `openOnnxSession`), logging a provider fallback. */
export async function openOnnxModel(file: string, settings: SessionSettings): Promise<InferenceModel> {
  const { logger: _logger, ...plain } = settings;
  const { model, fallback } = await openOnnxSession(file, plain);
  if (fallback !== undefined) logFallback(settings, file, fallback);
  return model;
}
