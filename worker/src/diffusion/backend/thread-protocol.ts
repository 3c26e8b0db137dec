/**
 * Messages between the main thread and a model's inference thread (see inference-thread.ts and
 * threaded-model.ts). Tensors cross as structured clones, which keep every float bit for bit.
 */
import type { ErrorCode, ExecutionProviderName } from '@sdbot/shared';
import type { ProviderFallback } from './onnx.js';
import type { Tensor } from './tensor.js';
import type { PlainSessionSettings, ValueInfo } from './types.js';

export type ThreadRequest =
  | { id: number; kind: 'open'; file: string; settings: PlainSessionSettings }
  | {
      id: number;
      kind: 'run';
      session: number;
      feeds: Readonly<Record<string, Tensor>>;
      outputNames?: readonly string[] | undefined;
    }
  | { id: number; kind: 'release'; session: number };

export interface OpenedSession {
  session: number;
  provider: ExecutionProviderName;
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  fallback?: ProviderFallback;
}

export interface ThreadError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export type ThreadReply =
  | { id: number; ok: true; value: OpenedSession | Record<string, Tensor> | null }
  | { id: number; ok: false; error: ThreadError };
