/**
 * The deliveries bucket decides, with compare-and-set, which bot replica posts a result and which
 * adopts the jobs of a stopped one: under contention exactly one wins, and a finished delivery is
 * gone for everyone.
 */
import { connectNats, INBOX_PREFIXES, type NatsConnection } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryRecord } from '@sdbot/shared';
import { DeliveryStore } from '../../bot/src/delivery/store.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../helpers/nats-server.js';
import { testConfig } from '../helpers/workers.js';

const available = natsServerAvailable();
const LEASE_MS = 60_000;

function record(jobId: string, owner: string): DeliveryRecord {
  return {
    v: 1,
    jobId,
    guildId: '123456789012345678',
    channelId: '123456789012345679',
    userId: '223456789012345678',
    channelNsfw: false,
    attachmentLimit: 10 * 1024 * 1024,
    tokenExpiresAt: Date.now() + 60_000,
    owner,
    createdAt: Date.now(),
  };
}

describe.skipIf(!available)('the deliveries bucket', () => {
  let server: NatsTestServer;
  const connections: NatsConnection[] = [];
  let replicas: DeliveryStore[];

  beforeAll(async () => {
    server = await startNatsServer();
    replicas = await Promise.all(
      ['a', 'b', 'c'].map(async (name) => {
        const connection = await connectNats(testConfig(server.url).nats, {
          name: `replica-${name}`,
          inboxPrefix: INBOX_PREFIXES.bot,
        });
        connections.push(connection);
        return DeliveryStore.open(connection);
      }),
    );
  });

  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.close()));
    await server.cleanup();
  });

  it('lets exactly one of many simultaneous claims win', async () => {
    const [first] = replicas;
    await first?.create(record('job-contended', 'bot-a'));
    const now = Date.now();
    const claims = await Promise.all(
      Array.from({ length: 24 }, (_, index) =>
        replicas[index % replicas.length]!.claim('job-contended', `bot-${index}`, now, LEASE_MS),
      ),
    );
    expect(claims.filter((claim) => claim.type === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.type === 'held')).toHaveLength(23);
  });

  it('lets a stale or released claim be taken over, and nothing be claimed once finished', async () => {
    const [a, b] = replicas;
    if (a === undefined || b === undefined) throw new Error('replicas missing');
    await a.create(record('job-handover', 'bot-a'));
    const start = Date.now();
    expect((await a.claim('job-handover', 'bot-a', start, LEASE_MS)).type).toBe('claimed');
    expect(await b.claim('job-handover', 'bot-b', start + 1000, LEASE_MS)).toEqual({
      type: 'held',
      retryAfterMs: LEASE_MS - 1000,
    });
    // The claimer died while posting: after the lease anyone may post.
    expect((await b.claim('job-handover', 'bot-b', start + LEASE_MS + 1, LEASE_MS)).type).toBe('claimed');
    await b.releaseClaim('job-handover', 'bot-b');
    expect((await a.claim('job-handover', 'bot-a', start + LEASE_MS + 2, LEASE_MS)).type).toBe('claimed');
    await a.finish('job-handover');
    expect(await b.claim('job-handover', 'bot-b', start + 2 * LEASE_MS, LEASE_MS)).toEqual({ type: 'gone' });
    expect((await b.pending()).map((pending) => pending.jobId)).not.toContain('job-handover');
  });

  it('gives the jobs of a stopped instance to exactly one adopter', async () => {
    const [a, b, c] = replicas;
    if (a === undefined || b === undefined || c === undefined) throw new Error('replicas missing');
    await a.heartbeat({ v: 1, id: 'bot-gone', startedAt: 1, heartbeatAt: 2, stoppedAt: 3 });
    await Promise.all(['job-orphan-1', 'job-orphan-2'].map((jobId) => a.create(record(jobId, 'bot-gone'))));
    const adoptions = await Promise.all(
      ['job-orphan-1', 'job-orphan-2'].flatMap((jobId) => [
        b.adopt(jobId, 'bot-gone', 'bot-b'),
        c.adopt(jobId, 'bot-gone', 'bot-c'),
      ]),
    );
    expect(adoptions.filter((adopted) => adopted !== null)).toHaveLength(2);
    const owners = (await a.pending())
      .filter((pending) => pending.jobId.startsWith('job-orphan'))
      .map((pending) => pending.owner);
    expect(owners.every((owner) => owner === 'bot-b' || owner === 'bot-c')).toBe(true);
    expect((await a.instances()).find((instance) => instance.id === 'bot-gone')?.stoppedAt).toBe(3);
    await a.removeInstance('bot-gone');
    expect((await b.instances()).map((instance) => instance.id)).not.toContain('bot-gone');
  });
});
