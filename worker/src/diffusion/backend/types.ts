/** What the pipeline knows about an inference session, whatever runtime runs it. */
import type { ExecutionProviderName, Logger } from '@sdbot/shared';
import type { Tensor } from './tensor.js';

/** One input or output as the model file declares it. */
export interface ValueInfo {
  name: string;
  /** `float32`, `float16`, `int64`... or the runtime's name for anything else (`string`, `map`). */
  dtype: string;
  /** Fixed sizes as numbers, symbolic ones (`batch`) as names; empty for a scalar. */
  shape: readonly (number | string)[];
}

export interface InferenceModel {
  /** The model file, for error messages. */
  readonly file: string;
  /** The execution provider the session really runs on (after any fallback to cpu). */
  readonly provider: ExecutionProviderName;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /**
   * Runs the model. Each feed is cast to the dtype its input declares (float32 -> float16,
   * int32 -> int64...); float16 outputs come back as float32.
   */
  run(
    feeds: Readonly<Record<string, Tensor>>,
    outputNames?: readonly string[],
  ): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export interface SessionSettings {
  provider: ExecutionProviderName;
  /** 0 lets the runtime use one thread per core. */
  intraOpThreads: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * onnxruntime's CPU memory arena. Off unless set: the arena keeps every step's peak allocations
   * for the life of the session (bench-sd at 512x512, 2 UNet rows: a 6.7 GiB peak against 3.5).
   * Without it, square sizes after the first run slower (README, Memory).
   */
  cpuMemArena?: boolean;
  /**
   * Models whose files (graph plus external weights) are smaller than this many bytes get weight
   * prepacking; larger ones do not (0: none does). Prepacked copies of a large UNet's weights
   * double its resident size for little speed. Default: 1 GiB.
   */
  prepackMaxBytes?: number;
  logger?: Logger;
}

/** The session settings that can cross to the inference thread (everything but the logger). */
export type PlainSessionSettings = Omit<SessionSettings, 'logger'>;
