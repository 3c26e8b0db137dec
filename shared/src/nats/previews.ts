/**
 * The short-lived store of progress previews. Each preview is a new object (one per step), so the
 * writer never replaces or purges anything, readers never lose chunks to a replacement, and the
 * store's max age (PREVIEW_MAX_AGE_MS) removes them.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { OBJECT_STORES, previewObjectName } from '../names.js';
import type { ObjectRef } from '../protocol/common.js';
import { withNatsRetry } from './retry.js';

/** Opens the previews store (created by provisioning). */
export function openPreviewStore(js: JetStreamClient): Promise<ObjectStore> {
  return withNatsRetry(`opening object store ${OBJECT_STORES.previews}`, () =>
    new Objm(js).open(OBJECT_STORES.previews),
  );
}

/** Stores the preview PNG of `step` of a job and returns the reference progress messages carry. */
export async function putPreview(
  store: ObjectStore,
  jobId: string,
  step: number,
  png: Uint8Array,
  { withinMs = 5000 } = {},
): Promise<ObjectRef> {
  const name = previewObjectName(jobId, step);
  // A preview is worth a short wait at most: the next one is a few steps away.
  const info = await withNatsRetry(`storing preview ${name}`, () => store.putBlob({ name }, png), {
    withinMs,
  });
  return { store: OBJECT_STORES.previews, name, size: info.size, contentType: 'image/png' };
}
