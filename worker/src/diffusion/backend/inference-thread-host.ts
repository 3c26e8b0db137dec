/**
 * The main thread's side of a model's inference thread: one worker thread per loaded model holds
 * all of that model's sessions (text encoder, UNet, VAE, safety checker), so memory does not
 * multiply with slots, and `run` is a message round trip that leaves the event loop free for
 * heartbeats, cancellation, progress and /healthz while a UNet step computes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LOG_EVENTS, SdbotError, type Logger } from '@sdbot/shared';
import { logFallback } from './onnx.js';
import type { Tensor } from './tensor.js';
import type { OpenedSession, ThreadReply, ThreadRequest } from './thread-protocol.js';
import type { InferenceModel, SessionSettings, ValueInfo } from './types.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The thread runs the TypeScript sources as the main process does: through tsx's scoped import,
 * since loader hooks registered in the main thread do not reach worker threads.
 */
function threadSource(): { code: string; eval: true } | { file: string } {
  const entry = new URL(
    `./inference-thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
    import.meta.url,
  );
  if (!entry.pathname.endsWith('.ts')) return { file: fileURLToPath(entry) };
  const href = JSON.stringify(entry.href);
  const api = JSON.stringify(tsxEsmApi());
  return { code: `import(${api}).then((tsx) => tsx.tsImport(${href}, ${href}));`, eval: true };
}

/** tsx's ESM API, located through its package's export map (its CommonJS build cannot be eval'd). */
function tsxEsmApi(): string {
  const manifestPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  const relative = manifest.exports['./esm/api']?.import?.default ?? './dist/esm/api/index.mjs';
  return pathToFileURL(join(dirname(manifestPath), relative)).href;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class InferenceThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: SdbotError | undefined;

  constructor(
    private readonly name: string,
    private readonly logger?: Logger,
  ) {
    const source = threadSource();
    this.worker =
      'code' in source
        ? new Worker(source.code, { eval: true, name: `inference ${name}` })
        : new Worker(source.file, { name: `inference ${name}` });
    // Idle, the thread must not keep the process alive; it is referenced while a request is out.
    this.worker.unref();
    this.worker.on('message', (reply: ThreadReply) => {
      this.settle(reply);
    });
    this.worker.on('error', (error) => {
      this.fail(new SdbotError('INFERENCE_FAILED', `inference thread of ${name} failed: ${error.message}`));
    });
    this.worker.on('exit', (code) => {
      this.fail(new SdbotError('INFERENCE_FAILED', `inference thread of ${name} exited with code ${code}`));
    });
  }

  private settle(reply: ThreadReply): void {
    const waiter = this.pending.get(reply.id);
    if (waiter === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) waiter.resolve(reply.value);
    else {
      const { code, message, retryable } = reply.error;
      waiter.reject(new SdbotError(code, message, { retryable }));
    }
  }

  private fail(error: SdbotError): void {
    if (this.failure === undefined) {
      // Unexpected: close() sets `failure` before it ends the thread.
      this.logger?.error({ model: this.name, reason: error.message }, LOG_EVENTS.inference.failed);
    }
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  request<T>(message: DistributiveOmit<ThreadRequest, 'id'>): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.ref();
      // Feeds are copied, not transferred: callers reuse their input buffers across steps.
      this.worker.postMessage({ ...message, id });
    });
  }

  /** Opens a session in this thread; a provider fallback is logged here, on the main thread. */
  async open(file: string, settings: SessionSettings): Promise<InferenceModel> {
    const { logger: _logger, ...plain } = settings;
    const opened = await this.request<OpenedSession>({ kind: 'open', file, settings: plain });
    if (opened.fallback !== undefined) logFallback(settings, file, opened.fallback);
    return new ThreadedModel(this, file, opened);
  }

  /** Ends the thread and every session in it. */
  async close(): Promise<void> {
    this.failure ??= new SdbotError('INFERENCE_FAILED', `the inference thread of ${this.name} is closed`);
    await this.worker.terminate();
  }
}

class ThreadedModel implements InferenceModel {
  readonly provider: InferenceModel['provider'];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  private readonly session: number;

  constructor(
    private readonly thread: InferenceThread,
    readonly file: string,
    opened: OpenedSession,
  ) {
    this.session = opened.session;
    this.provider = opened.provider;
    this.inputs = opened.inputs;
    this.outputs = opened.outputs;
  }

  run(
    feeds: Readonly<Record<string, Tensor>>,
    outputNames?: readonly string[],
  ): Promise<Record<string, Tensor>> {
    return this.thread.request({ kind: 'run', session: this.session, feeds, outputNames });
  }

  async release(): Promise<void> {
    await this.thread.request<null>({ kind: 'release', session: this.session }).catch(() => undefined);
  }
}
