/**
 * Daily quotas and member preferences on a real nats-server: two bot replicas (two connections)
 * together admit exactly the quota, the count starts again on the next UTC day, and preferences
 * survive being read back by another replica.
 */
import { describe, expect, it } from 'vitest';
import { UserPreferencesStore } from '../../bot/src/preferences/store.js';
import { applyPreferences } from '../../bot/src/preferences/changes.js';
import { DailyQuota, nextUtcMidnight, utcDay } from '../../bot/src/quota/daily-quota.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { useReplicaConnections } from '../helpers/replica-connections.js';

const available = natsServerAvailable();
const guildId = '100000000000000001';
const NOON = Date.UTC(2026, 11, 6, 12, 0, 0);

describe.skipIf(!available)('daily quotas and preferences (real nats-server)', () => {
  const nats = useReplicaConnections();

  it('admits exactly the server quota across two replicas racing', async () => {
    let now = NOON;
    const replicas = [
      await DailyQuota.open(nats.first, { now: () => now }),
      await DailyQuota.open(nats.second, { now: () => now }),
    ] as const;
    const users = Array.from(
      { length: 10 },
      (_, index) => `2000000000000000${String(index).padStart(2, '0')}`,
    );
    // 30 jobs of 2 images from 10 members against a server quota of 25 images: 12 jobs fit.
    const grants = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        replicas[index % 2]!.reserve({ guildId, userId: users[index % 10]! }, 2, { server: 25, user: 10 }),
      ),
    );
    expect(grants.filter((grant) => grant.ok)).toHaveLength(12);
    const usage = await replicas[0].usage({ guildId, userId: users[0]! });
    expect(usage.server).toBe(24);
    const refused = grants.find((grant) => !grant.ok);
    expect(refused?.ok === false && refused.which).toBe('server');
    expect(refused?.ok === false && refused.message).toMatch(
      /^This server has used \d+ of 25 images today; 2 more would pass the daily quota\. It resets at 00:00 UTC \(in 12 h 0 min\)\.$/,
    );
    // A new UTC day starts from zero.
    now = nextUtcMidnight(NOON) + 1;
    expect(utcDay(now)).toBe('2026-12-07');
    expect((await replicas[1].usage({ guildId, userId: users[0]! })).server).toBe(0);
  });

  it('admits exactly the member quota, and gives the member back what the server refused', async () => {
    const quota = await DailyQuota.open(nats.first, { now: () => NOON });
    const other = await DailyQuota.open(nats.second, { now: () => NOON });
    const scope = { guildId: '100000000000000002', userId: '300000000000000001' };
    const grants = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        (index % 2 === 0 ? quota : other).reserve(scope, 1, { user: 5 }),
      ),
    );
    expect(grants.filter((grant) => grant.ok)).toHaveLength(5);
    const last = grants.find((grant) => !grant.ok);
    expect(last?.ok === false && last.message).toMatch(/^You have used 5 of 5 images today/);

    const tight = { guildId: '100000000000000003', userId: '300000000000000002' };
    expect((await quota.reserve(tight, 4, { user: 10, server: 4 })).ok).toBe(true);
    const refused = await quota.reserve(tight, 1, { user: 10, server: 4 });
    expect(refused.ok).toBe(false);
    expect(await quota.usage(tight)).toMatchObject({ user: 4, server: 4 });
    await quota.release(tight, 4, { user: 10, server: 4 });
    expect(await quota.usage(tight)).toMatchObject({ user: 0, server: 0 });
  });

  it('writes nothing when the server sets no quota', async () => {
    const quota = await DailyQuota.open(nats.first, { now: () => NOON });
    const scope = { guildId: '100000000000000004', userId: '300000000000000003' };
    expect((await quota.reserve(scope, 4, {})).ok).toBe(true);
    expect(await quota.usage(scope)).toMatchObject({ user: 0, server: 0 });
  });

  it('keeps a member preferences across replicas', async () => {
    const userId = '400000000000000001';
    const store = await UserPreferencesStore.open(nats.first, { now: () => 5 });
    const replica = await UserPreferencesStore.open(nats.second);
    expect(await store.get(userId)).toEqual({ v: 1, userId, remix: false, updatedAt: 0 });
    await store.update(userId, (current) =>
      applyPreferences(current, { steps: 30, remix: true, aspect: '16:9' }),
    );
    expect(await replica.get(userId)).toEqual({
      v: 1,
      userId,
      steps: 30,
      remix: true,
      aspect: '16:9',
      updatedAt: 5,
    });
  });
});
