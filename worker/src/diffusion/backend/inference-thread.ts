/**
 * The body of a model's inference thread: holds that model's onnxruntime sessions and runs them
 * one request at a time, so a UNet step (seconds on a CPU) never blocks the worker's event loop.
 * Output buffers are transferred, not copied, back to the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { toSdbotError } from '@sdbot/shared';
import { openOnnxSession } from './onnx.js';
import type { Tensor } from './tensor.js';
import type { OpenedSession, ThreadReply, ThreadRequest } from './thread-protocol.js';
import type { InferenceModel } from './types.js';

const port = parentPort;
if (port === null) throw new Error('inference-thread.ts runs only as a worker thread');

const sessions = new Map<number, InferenceModel>();
let nextSession = 1;

function session(id: number): InferenceModel {
  const model = sessions.get(id);
  if (model === undefined) throw new Error(`inference session ${id} is not open`);
  return model;
}

/** Buffers that own exactly their tensor's bytes can move; anything else is copied. */
function transferables(outputs: Record<string, Tensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const { data } of Object.values(outputs)) {
    const { buffer } = data;
    if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) {
      buffers.add(buffer);
    }
  }
  return [...buffers];
}

async function handle(request: ThreadRequest): Promise<OpenedSession | Record<string, Tensor> | null> {
  switch (request.kind) {
    case 'open': {
      const { model, fallback } = await openOnnxSession(request.file, request.settings);
      const id = nextSession++;
      sessions.set(id, model);
      const { provider, inputs, outputs } = model;
      return { session: id, provider, inputs, outputs, ...(fallback === undefined ? {} : { fallback }) };
    }
    case 'run':
      return session(request.session).run(request.feeds, request.outputNames);
    case 'release': {
      const model = sessions.get(request.session);
      sessions.delete(request.session);
      await model?.release();
      return null;
    }
  }
}

// Requests run in arrival order: the sessions share this thread's cores, so overlapping them
// would only make each step slower.
let queue: Promise<void> = Promise.resolve();
port.on('message', (request: ThreadRequest) => {
  queue = queue.then(async () => {
    let reply: ThreadReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const value = await handle(request);
      reply = { id: request.id, ok: true, value };
      if (request.kind === 'run' && value !== null) transfer = transferables(value as Record<string, Tensor>);
    } catch (error) {
      const { code, message, retryable } = toSdbotError(error);
      reply = { id: request.id, ok: false, error: { code, message, retryable } };
    }
    try {
      port.postMessage(reply, transfer);
    } catch {
      // A buffer onnxruntime keeps (an external one) cannot move: send a copy instead.
      port.postMessage(reply);
    }
  });
});
