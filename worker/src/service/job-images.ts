/**
 * The images a job reads and writes in the object store: its source image (img2img, variations,
 * upscales) and its results and previews (chunked: images never have to fit in one message).
 * Every call is bounded by the job's deadline; a source that cannot be read (missing, too large, its
 * chunks gone) fails at once with IMAGE_INVALID, which no retry would fix.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import {
  OBJECT_STORES,
  SdbotError,
  createObject,
  natsFailure,
  openPreviewStore,
  putPreview,
  type NatsConnection,
  type ObjectRef,
} from '@sdbot/shared';
import { withDeadline, type JobDeadline } from './deadline.js';

/** How a read reports that it advances (the runner tells JetStream the job is still worked on). */
export type Progressed = () => void;

export interface JobImagesOptions {
  /** SDBOT_MAX_SOURCE_BYTES: a larger source is refused before it is read. */
  maxSourceBytes: number;
}

export class JobImages {
  private readonly stream = `OBJ_${OBJECT_STORES.images}`;

  private previewStore: Promise<ObjectStore> | undefined;

  constructor(
    private readonly connection: NatsConnection,
    private readonly objects: ObjectStore,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: JobImagesOptions,
  ) {}

  async readSource(
    ref: ObjectRef,
    deadline: JobDeadline,
    progressed: Progressed = () => undefined,
  ): Promise<Uint8Array> {
    const what = `reading source image ${ref.name}`;
    const found = await withDeadline(what, deadline, () => this.objects.get(ref.name)).catch(
      (error: unknown) => {
        throw asFailure(error, what);
      },
    );
    if (found === null) {
      throw new SdbotError('IMAGE_INVALID', `source image ${ref.name} is not in the object store`);
    }
    const { maxSourceBytes } = this.options;
    if (found.info.size > maxSourceBytes) {
      await found.data.cancel().catch(() => undefined);
      throw new SdbotError(
        'IMAGE_INVALID',
        `source image ${ref.name} is ${found.info.size} bytes, over SDBOT_MAX_SOURCE_BYTES (${maxSourceBytes})`,
      );
    }
    const reader = found.data.getReader();
    try {
      if (found.info.size > 0 && !(await this.hasChunks(found.info.nuid, deadline, what))) {
        throw new SdbotError(
          'IMAGE_INVALID',
          `source image ${ref.name} cannot be read: its data is gone from the object store`,
        );
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      for (;;) {
        // Each chunk has its own deadline: a read that advances is never cut short.
        const { done, value } = await withDeadline(what, deadline, () => reader.read());
        if (done) break;
        size += value.length;
        if (size > maxSourceBytes) {
          throw new SdbotError('IMAGE_INVALID', `source image ${ref.name} is over SDBOT_MAX_SOURCE_BYTES`);
        }
        chunks.push(value);
        progressed();
      }
      const failure = await found.error;
      if (failure instanceof Error) throw failure;
      return Buffer.concat(chunks);
    } catch (error) {
      // Cancelling stops the object store's consumer, which would otherwise wait on forever.
      await reader.cancel().catch(() => undefined);
      // Chunks lost in the middle: what arrived does not match the object's digest.
      if (error instanceof Error && /digest/i.test(error.message)) {
        throw new SdbotError(
          'IMAGE_INVALID',
          `source image ${ref.name} cannot be read: part of its data is gone from the object store`,
          { cause: error },
        );
      }
      throw asFailure(error, what);
    }
  }

  /** Where `store` puts a result image: known before it is stored. */
  refFor(name: string, png: Uint8Array): ObjectRef {
    return { store: OBJECT_STORES.images, name, size: png.byteLength, contentType: 'image/png' };
  }

  /**
   * Stores a result image. Its name is new unless its job runs a second time: created without a
   * lookup first (see createObject), replaced with nats.js's put when it does exist.
   */
  async store(name: string, png: Uint8Array, deadline: JobDeadline): Promise<void> {
    const what = `storing image ${name}`;
    try {
      const created = await withDeadline(what, deadline, () =>
        createObject(this.connection, this.js, OBJECT_STORES.images, name, png),
      );
      if (!created) await withDeadline(what, deadline, () => this.objects.putBlob({ name }, png));
    } catch (error) {
      throw asFailure(error, what);
    }
  }

  /** Stores a progress preview in its own short-lived store (never in the image store). */
  async storePreview(
    jobId: string,
    step: number,
    png: Uint8Array,
    deadline: JobDeadline,
  ): Promise<ObjectRef> {
    this.previewStore ??= openPreviewStore(this.js).catch((error: unknown) => {
      // Not provisioned yet (bots not upgraded): try again with a later preview.
      this.previewStore = undefined;
      throw error;
    });
    const store = await this.previewStore;
    return withDeadline(`storing the preview of job ${jobId}`, deadline, () =>
      putPreview(store, jobId, step, png),
    );
  }

  /** Whether the object's data chunks are still stored (they expire or get purged apart from it). */
  private async hasChunks(nuid: string, deadline: JobDeadline, what: string): Promise<boolean> {
    const subject = `$O.${OBJECT_STORES.images}.C.${nuid}`;
    // nats.js answers null for "no message found".
    const last = await withDeadline(what, deadline, () =>
      this.jsm.streams.getMessage(this.stream, { last_by_subj: subject }),
    );
    return last !== null;
  }
}

/** Our own errors (deadline, cancellation, refusals) pass; anything else is a NATS failure. */
function asFailure(error: unknown, what: string): SdbotError {
  return error instanceof SdbotError ? error : natsFailure(error, what);
}
