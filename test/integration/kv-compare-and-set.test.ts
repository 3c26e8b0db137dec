/**
 * The one compare-and-set helper every read-modify-write of shared state uses, against a real
 * nats-server: racing writers all land, a stale revision is read again, a refused change writes
 * nothing, and endless contention ends with a ContentionError naming the key.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  compareAndSet,
  ContentionError,
  desiredStreams,
  jobSchema,
  JobStateStore,
  loadConfig,
  openProvisionedBucket,
  readValue,
} from '@sdbot/shared';
import type { KV } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleJob } from '../helpers/messages.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../helpers/nats-server.js';

const available = natsServerAvailable();
const config = loadConfig({ env: {} });

const counter = {
  read: (entry: { value: Uint8Array } | null) =>
    entry === null ? 0 : Number(new TextDecoder().decode(entry.value)),
  encode: (value: number) => new TextEncoder().encode(String(value)),
};

describe.skipIf(!available)('KV compare-and-set (real nats-server)', () => {
  let server: NatsTestServer;
  let connection: NatsConnection;
  let kv: KV;

  beforeAll(async () => {
    server = await startNatsServer();
    connection = await connect({ servers: server.url });
    kv = await openProvisionedBucket(connection, 'dispatch', config);
  });

  afterAll(async () => {
    await connection.close();
    await server.cleanup();
  });

  it('lands every one of many racing increments exactly once', async () => {
    const writers = Array.from({ length: 12 }, () =>
      compareAndSet(kv, 'count', { ...counter, change: (n: number) => n + 1, maxAttempts: 100 }),
    );
    const results = await Promise.all(writers);
    expect(results.every((result) => result.written)).toBe(true);
    expect(results.map((result) => result.after).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, index) => index + 1),
    );
    expect(new TextDecoder().decode((await readValue(kv, 'count')) ?? new Uint8Array())).toBe('12');
  });

  it('writes nothing when the change leaves the value alone', async () => {
    const result = await compareAndSet(kv, 'untouched', { ...counter, change: () => undefined });
    expect(result).toEqual({ before: 0, after: 0, written: false, revision: null });
    expect(await readValue(kv, 'untouched')).toBeNull();
  });

  it('reads again when what it knew is stale, and decides on the fresh value', async () => {
    const first = await compareAndSet(kv, 'stale', { ...counter, change: () => 10 });
    await kv.put('stale', counter.encode(20));
    const seen: number[] = [];
    const result = await compareAndSet(kv, 'stale', {
      ...counter,
      known: { value: first.after, revision: first.revision ?? 0 },
      change: (n: number) => {
        seen.push(n);
        return n + 1;
      },
    });
    expect(seen).toEqual([10, 20]);
    expect(result.after).toBe(21);
  });

  it('gives up with a ContentionError naming the key when others always win', async () => {
    let rival = 100;
    const attempt = compareAndSet(kv, 'busy', {
      ...counter,
      what: 'the busy counter',
      maxAttempts: 3,
      change: (n: number) => {
        // Another writer gets in between every read and write.
        rival += 1;
        void kv.put('busy', counter.encode(rival));
        return n + 1;
      },
    });
    await expect(attempt).rejects.toBeInstanceOf(ContentionError);
    await expect(attempt).rejects.toMatchObject({
      code: 'NATS_UNAVAILABLE',
      message: 'the busy counter changed under us 3 times in a row; try again in a moment',
    });
  });

  it('records a queued job once, adds a place learned later, and never rewinds a started job', async () => {
    const jobs = new JobStateStore(await openProvisionedBucket(connection, 'jobState', config));
    const job = jobSchema.parse(exampleJob({ id: 'cas-queued-1' }));
    // Sent with the job to the work queue, before its sequence there is known.
    // It tells the revision it wrote (which the job carries to its worker).
    const revision = await jobs.createQueued(job, {});
    expect((await jobs.get(job.id))?.revision).toBe(revision);
    expect(await jobs.createQueued(job, {})).toBeNull();
    // That publish failed and the job went to the backlog instead.
    expect(await jobs.createQueued(job, { backlogSeq: 7 })).toEqual(expect.any(Number));
    expect((await jobs.get(job.id))?.record).toMatchObject({ status: { state: 'queued' }, backlogSeq: 7 });
    expect(await jobs.createQueued(job, { backlogSeq: 9 })).toBeNull();

    const fast = jobSchema.parse(exampleJob({ id: 'cas-queued-2' }));
    await jobs.transition(fast, { state: 'started', workerId: 'w1', startedAt: 1 });
    expect(await jobs.createQueued(fast, { backlogSeq: 3 })).toBeNull();
    expect((await jobs.get(fast.id))?.record.status.state).toBe('started');
  });

  it('provisions a bucket with the one set of settings every component uses', async () => {
    const jsm = await jetstreamManager(connection);
    const { config: stored } = await jsm.streams.info('KV_sdbot-dispatch');
    expect(stored).toMatchObject(desiredStreams(config).dispatch);
    for (const bucket of ['jobState', 'settings', 'rateLimits', 'dispatch', 'deliveries'] as const) {
      expect(desiredStreams(config)[bucket].max_msgs_per_subject).toBe(1);
    }
  });
});
