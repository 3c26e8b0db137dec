/**
 * Stores an object under a name that is new, without looking the name up first. nats.js's put
 * reads the name's metadata before writing (to purge the chunks of an object it replaces): one
 * round trip more for every result image, whose name is its job's and new unless the job is run a
 * second time. Here the chunks go first, then the metadata on the condition that the name has none
 * yet, which the server checks. The layout is the object store's own (ADR-20: chunks under
 * `$O.<store>.C.<nuid>`, the metadata rolled up under `$O.<store>.M.<name in base64url>`), so
 * nats.js reads the object back and verifies its digest.
 */
import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers, nuid, type NatsConnection } from '@nats-io/transport-node';
import { isRevisionConflict } from './errors.js';

/** nats.js's chunk size: 128 KiB, or the server's largest message if that is smaller. */
const MAX_CHUNK_BYTES = 128 * 1024;

/** Base64url with padding, as nats.js writes names in subjects and digests. */
function base64UrlPadded(bytes: Buffer): string {
  return bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

function chunksOf(data: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < data.length; start += size) chunks.push(data.subarray(start, start + size));
  return chunks;
}

export interface CreateObjectOptions {
  /** Limit for each publish (chunks and metadata), as nats.js's put takes it. */
  timeoutMs?: number;
}

/**
 * Stores `data` as object `name` of `store` and returns true, or returns false without storing it
 * when the name already has an object (its chunks stay behind, unreferenced: put it with nats.js).
 */
export async function createObject(
  connection: NatsConnection,
  js: JetStreamClient,
  store: string,
  name: string,
  data: Uint8Array,
  { timeoutMs }: CreateObjectOptions = {},
): Promise<boolean> {
  const id = nuid.next();
  const chunkSize = Math.min(MAX_CHUNK_BYTES, connection.info?.max_payload ?? MAX_CHUNK_BYTES);
  const chunks = chunksOf(data, chunkSize);
  const options = timeoutMs === undefined ? {} : { timeout: timeoutMs };
  const meta = {
    name,
    description: '',
    options: { max_chunk_size: chunkSize },
    bucket: store,
    nuid: id,
    size: data.length,
    chunks: chunks.length,
    mtime: new Date().toISOString(),
    digest: `SHA-256=${base64UrlPadded(createHash('sha256').update(data).digest())}`,
    deleted: false,
  };
  const metaHeaders = headers();
  metaHeaders.set('Nats-Rollup', 'sub');
  // One connection keeps its publishes in order, so the chunks are stored before the metadata
  // without waiting for their acknowledgements. A chunk that fails fails the call: the metadata
  // may then name data that is not all there, but nothing refers to the object (a job publishes
  // its outcome only once its images are stored) and storing it again replaces it.
  const stored = chunks.map((chunk) => js.publish(`$O.${store}.C.${id}`, chunk, options));
  const created = js
    .publish(`$O.${store}.M.${base64UrlPadded(Buffer.from(name, 'utf8'))}`, JSON.stringify(meta), {
      ...options,
      headers: metaHeaders,
      expect: { lastSubjectSequence: 0 },
    })
    .then(
      () => true,
      (error: unknown) => {
        if (isRevisionConflict(error)) return false;
        throw error;
      },
    );
  const [isNew] = await Promise.all([created, ...stored]);
  return isNew;
}
