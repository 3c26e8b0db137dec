/**
 * Image reads never hang: a preview replaced while it is being read loses the chunks the object
 * store's reader waits for, and the bot's progress edits (and the result behind them) must not wait
 * on it forever.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { OBJECT_STORES, SdbotError, objectStoreStreamName } from '@sdbot/shared';
import { beforeAll, expect, it } from 'vitest';
import { describeDistributed } from '../helpers/distributed-world.js';
import type { TestClient } from '../helpers/workers.js';

describeDistributed(
  'reading images from the object store',
  (world) => {
    let requester: TestClient;

    beforeAll(async () => {
      requester = await world.openClient();
    });

    it('reads an image back whole', async () => {
      const { client } = requester;
      const bytes = new Uint8Array(150_000).map((_, index) => index % 251);
      bytes.set([0x89, 0x50, 0x4e, 0x47]);
      const ref = await client.uploadSource('job-whole', bytes);
      expect(await client.readImage(ref)).toEqual(bytes);
    });

    it('gives up with TIMEOUT when the chunks of an image vanish under the reader', async () => {
      const { client, connection } = requester;
      const bytes = new Uint8Array(200_000).fill(7);
      bytes.set([0x89, 0x50, 0x4e, 0x47]);
      const ref = await client.uploadSource('job-vanishing', bytes);
      // What a replacement does to a reader that already holds the old metadata: its chunks are gone.
      const store = await new Objm(connection).open(OBJECT_STORES.images);
      const info = await store.info(ref.name);
      const jsm = await jetstreamManager(connection);
      await jsm.streams.purge(objectStoreStreamName(OBJECT_STORES.images), {
        filter: `$O.${OBJECT_STORES.images}.C.${info?.nuid ?? ''}`,
      });
      const started = Date.now();
      const failure = await client.readImage(ref, { timeoutMs: 300 }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(SdbotError);
      expect((failure as SdbotError).code).toBe('TIMEOUT');
      expect(Date.now() - started).toBeLessThan(5000);
    });
  },
  { scope: 'file' },
);
