import { Kvm } from '@nats-io/kv';
import { KV_BUCKETS, ValidationError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { applySetting } from '../../bot/src/settings/keys.js';
import { addBannedWords } from '../../bot/src/settings/lists.js';
import { defaultGuildSettings, GuildSettingsStore } from '../../bot/src/settings/store.js';
import { exampleSettingsDefaults } from '../helpers/bot-settings.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { useReplicaConnections } from '../helpers/replica-connections.js';

const available = natsServerAvailable();
const defaults = exampleSettingsDefaults;

describe.skipIf(!available)('guild settings store (real nats-server)', () => {
  const nats = useReplicaConnections();

  it('returns the defaults for a guild that set nothing, without writing them', async () => {
    const store = await GuildSettingsStore.open(nats.first);
    expect(await store.get('100000000000000001')).toEqual(defaultGuildSettings('100000000000000001'));
    const kv = await new Kvm(nats.first).open(KV_BUCKETS.settings);
    expect(await kv.get('100000000000000001')).toBeNull();
  });

  it('keeps every change when two replicas update the same guild at once', async () => {
    const guildId = '100000000000000002';
    const replicas = [
      await GuildSettingsStore.open(nats.first, { now: () => 1_000 }),
      await GuildSettingsStore.open(nats.second, { now: () => 2_000 }),
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
    const store = await GuildSettingsStore.open(nats.first, { now: () => 5_000 });
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
    const store = await GuildSettingsStore.open(nats.first);
    await store.update(guildId, 'admin', (current) => addBannedWords(current, 'gore'));
    const kv = await new Kvm(nats.first).open(KV_BUCKETS.settings);
    const revision = (await kv.get(guildId))?.revision;
    const { before, after } = await store.update(guildId, 'someone', (current) =>
      addBannedWords(current, 'GORE'),
    );
    expect(after).toEqual(before);
    expect((await kv.get(guildId))?.revision).toBe(revision);
  });
});
