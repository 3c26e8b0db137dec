import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { KV_BUCKETS, ValidationError } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySetting, type SettingsDefaults } from '../../bot/src/settings/keys.js';
import { addBannedWords } from '../../bot/src/settings/lists.js';
import { defaultGuildSettings, GuildSettingsStore } from '../../bot/src/settings/store.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../helpers/nats-server.js';

const available = natsServerAvailable();
const defaults: SettingsDefaults = {
  maxPixels: 1024 * 1024,
  defaultScheduler: 'pndm',
  rateLimits: {
    guildJobsPerMinute: 20,
    guildBurst: 10,
    userJobsPerMinute: 6,
    userBurst: 3,
    userMaxConcurrent: 2,
    guildMaxQueued: 25,
  },
};

describe.skipIf(!available)('guild settings store (real nats-server)', () => {
  let server: NatsTestServer;
  let first: NatsConnection;
  let second: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    first = await connect({ servers: server.url });
    second = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await first.close();
    await second.close();
    await server.cleanup();
  });

  it('returns the defaults for a guild that set nothing, without writing them', async () => {
    const store = await GuildSettingsStore.open(first);
    expect(await store.get('100000000000000001')).toEqual(defaultGuildSettings('100000000000000001'));
    const kv = await new Kvm(first).open(KV_BUCKETS.settings);
    expect(await kv.get('100000000000000001')).toBeNull();
  });

  it('keeps every change when two replicas update the same guild at once', async () => {
    const guildId = '100000000000000002';
    const replicas = [
      await GuildSettingsStore.open(first, { now: () => 1_000 }),
      await GuildSettingsStore.open(second, { now: () => 2_000 }),
    ] as const;
    const words = Array.from({ length: 12 }, (_, index) => `word${index}`);
    await Promise.all(
      words.map((word, index) =>
        (index % 2 === 0 ? replicas[0] : replicas[1]).update(guildId, `admin${index}`, (current) =>
          addBannedWords(current, word),
        ),
      ),
    );
    const stored = await replicas[0].get(guildId);
    expect([...stored.bannedWords].sort()).toEqual([...words].sort());
    expect([1_000, 2_000]).toContain(stored.updatedAt);
    expect(stored.updatedBy).toMatch(/^admin\d+$/);
  });

  it('refuses an invalid value naming the key and leaves the stored settings as they were', async () => {
    const guildId = '100000000000000003';
    const store = await GuildSettingsStore.open(first, { now: () => 5_000 });
    const { before, after } = await store.update(guildId, 'admin', (current) =>
      applySetting(current, 'max-steps', '40', defaults),
    );
    expect(before.maxSteps).toBeUndefined();
    expect(after).toMatchObject({ maxSteps: 40, updatedAt: 5_000, updatedBy: 'admin' });

    const refused = store.update(guildId, 'admin', (current) =>
      applySetting(current, 'max-steps', '400', defaults),
    );
    await expect(refused).rejects.toThrow(ValidationError);
    await expect(refused).rejects.toThrow('max-steps: must be an integer in 1..150 (got 400)');
    expect((await store.get(guildId)).maxSteps).toBe(40);
  });

  it('writes nothing for a change that changes nothing', async () => {
    const guildId = '100000000000000004';
    const store = await GuildSettingsStore.open(first);
    await store.update(guildId, 'admin', (current) => addBannedWords(current, 'gore'));
    const kv = await new Kvm(first).open(KV_BUCKETS.settings);
    const revision = (await kv.get(guildId))?.revision;
    const { before, after } = await store.update(guildId, 'someone', (current) =>
      addBannedWords(current, 'GORE'),
    );
    expect(after).toEqual(before);
    expect((await kv.get(guildId))?.revision).toBe(revision);
  });
});
