/**
 * Creating an object without looking its name up first, against a real nats-server: nats.js reads
 * it back whole and verifies its digest (one chunk, many chunks, none), and a name that already has
 * an object is refused by the server and left as it was.
 */
import { randomBytes } from 'node:crypto';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { OBJECT_STORES, createObject } from '@sdbot/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { useProvisionedServer } from '../helpers/provisioned-server.js';

const store = OBJECT_STORES.images;

describe.skipIf(!natsServerAvailable())('creating an object in one pass (real nats-server)', () => {
  const nats = useProvisionedServer({ resources: ['images'] });
  let js: JetStreamClient;
  let objects: ObjectStore;

  beforeAll(async () => {
    js = jetstream(nats.connection);
    objects = await new Objm(js).open(store);
  });

  it.each([
    ['one chunk', 2_500, 1],
    ['several chunks', 300 * 1024, 3],
    ['no data', 0, 0],
  ])('stores %s as nats.js reads it', async (_label, size, chunks) => {
    const data = randomBytes(size);
    const name = `job-${size}/0.png`;
    expect(await createObject(nats.connection, js, store, name, data)).toBe(true);
    const info = await objects.info(name);
    expect(info).toMatchObject({ name, size, chunks, deleted: false, bucket: store });
    // nats.js checks the digest as it reads.
    const read = await objects.getBlob(name);
    expect(Buffer.from(read ?? new Uint8Array()).equals(data)).toBe(true);
    expect((await objects.list()).map((entry) => entry.name)).toContain(name);
  });

  it('refuses a name that has an object and leaves that object alone', async () => {
    const first = randomBytes(1000);
    expect(await createObject(nats.connection, js, store, 'job-twice/0.png', first)).toBe(true);
    expect(await createObject(nats.connection, js, store, 'job-twice/0.png', randomBytes(1000))).toBe(false);
    const byNatsJs = randomBytes(500);
    await objects.putBlob({ name: 'job-nats/0.png' }, byNatsJs);
    expect(await createObject(nats.connection, js, store, 'job-nats/0.png', randomBytes(500))).toBe(false);
    expect(Buffer.from((await objects.getBlob('job-twice/0.png')) ?? []).equals(first)).toBe(true);
    expect(Buffer.from((await objects.getBlob('job-nats/0.png')) ?? []).equals(byNatsJs)).toBe(true);
  });
});
