/**
 * The images of jobs in the object stores: sources a requester uploads for img2img, results and
 * previews it reads back. Reads have a deadline because an object replaced while it is read loses
 * the chunks the reader waits for.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { SdbotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { OBJECT_STORES, sourceObjectName } from '../names.js';
import { IMAGE_CONTENT_TYPES, type ObjectRef } from '../protocol/common.js';
import { natsFailure } from './errors.js';
import { openPreviewStore } from './previews.js';
import { withNatsRetry } from './retry.js';

/** Longest wait for an image read (objects are at most a few MiB on the same NATS). */
const IMAGE_READ_TIMEOUT_MS = 30_000;

function sniffImageType(bytes: Uint8Array): ObjectRef['contentType'] | undefined {
  const starts = (...signature: number[]) => signature.every((byte, index) => bytes[index] === byte);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45) return 'image/webp';
  return undefined;
}

export class JobImages {
  private previews: Promise<ObjectStore> | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly images: ObjectStore,
    previews: ObjectStore | undefined,
    private readonly logger: Logger | undefined,
  ) {
    if (previews !== undefined) this.previews = Promise.resolve(previews);
  }

  /** Stores the image an img2img job starts from; the worker reads it from the object store. */
  async uploadSource(jobId: string, bytes: Uint8Array): Promise<ObjectRef> {
    const contentType = sniffImageType(bytes);
    if (contentType === undefined) {
      throw new SdbotError('IMAGE_INVALID', `source image must be one of ${IMAGE_CONTENT_TYPES.join(', ')}`);
    }
    const name = sourceObjectName(jobId);
    try {
      const info = await this.images.putBlob({ name }, bytes);
      return { store: OBJECT_STORES.images, name, size: info.size, contentType };
    } catch (error) {
      throw natsFailure(error, `uploading the source image of job ${jobId}`);
    }
  }

  /**
   * Reads an image (result, preview or source) from the object store. An object replaced while it
   * is read (a job's preview is overwritten every few steps) loses the chunks the reader waits for,
   * so reads give up after `timeoutMs` with TIMEOUT instead of waiting forever.
   */
  async readImage(ref: ObjectRef, { timeoutMs = IMAGE_READ_TIMEOUT_MS } = {}): Promise<Uint8Array> {
    const store = await this.storeOf(ref);
    // A server restarting under the read times it out: read the whole object again, within the
    // same deadline as one read.
    return withNatsRetry(`reading image ${ref.name}`, () => this.readImageOnce(store, ref, timeoutMs), {
      ...this.retryOptions(),
      withinMs: timeoutMs,
    });
  }

  private retryOptions(): { logger?: Logger } {
    return this.logger === undefined ? {} : { logger: this.logger };
  }

  /** The store of an image; the previews store is opened when a preview is first read. */
  private async storeOf(ref: ObjectRef): Promise<ObjectStore> {
    if (ref.store === OBJECT_STORES.images) return this.images;
    if (ref.store !== OBJECT_STORES.previews) {
      throw new SdbotError('NOT_FOUND', `unknown object store "${ref.store}"`);
    }
    this.previews ??= openPreviewStore(this.js);
    // A failed open is not remembered: the store may be provisioned later.
    return this.previews.catch((error: unknown) => {
      this.previews = undefined;
      throw error;
    });
  }

  private async readImageOnce(store: ObjectStore, ref: ObjectRef, timeoutMs: number): Promise<Uint8Array> {
    const found = await store.get(ref.name);
    if (found === null) throw new SdbotError('NOT_FOUND', `image ${ref.name} is gone (expired or deleted)`);
    const reader = found.data.getReader();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new SdbotError(
            'TIMEOUT',
            `reading image ${ref.name} took over ${timeoutMs} ms (replaced while read?)`,
          ),
        );
      }, timeoutMs);
    });
    // Only the race observes the timeout; it must not count as unhandled while nothing races.
    timedOut.catch(() => undefined);
    const chunks: Uint8Array[] = [];
    try {
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), timedOut]);
        if (done) break;
        chunks.push(value);
      }
      const failure = await found.error;
      if (failure instanceof Error) throw failure;
    } catch (error) {
      // Cancelling stops the object store's consumer, which would otherwise wait on forever.
      await reader.cancel().catch(() => undefined);
      if (error instanceof SdbotError) throw error;
      throw natsFailure(error, `reading image ${ref.name}`);
    } finally {
      clearTimeout(timer);
    }
    const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  }
}
