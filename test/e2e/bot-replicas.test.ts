/**
 * Two bot replicas on the same NATS and the same Discord application share one guild's rate limit:
 * both receive every interaction, the first to answer it handles it, and the guild's token bucket
 * lives in KV behind compare-and-set, so 40 simultaneous requests admit exactly 5.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BotHandle } from '@sdbot/bot';
import { describe, expect, it } from 'vitest';
import type { EmulatorInteraction } from '../discord-emulator/index.js';
import { useBotWorld, isResult } from '../helpers/bot-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();
const USERS = ['alice', 'bob', 'carol', 'dave'];
const REQUESTS = 40;

/** sdbot_bot_interactions_total of /imagine by outcome. */
async function interactionOutcomes(bot: BotHandle): Promise<Record<string, number>> {
  const metric = (await bot.metrics.registry.getMetricsAsJSON()).find(
    (entry) => entry.name === 'sdbot_bot_interactions_total',
  );
  const counts: Record<string, number> = {};
  for (const value of metric?.values ?? []) {
    if (value.labels.name === 'imagine') counts[String(value.labels.outcome)] = value.value;
  }
  return counts;
}

describe.skipIf(!hasNats)(`two bot replicas${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useBotWorld({
    env: { SDBOT_GUILD_JOBS_PER_MINUTE: '5', SDBOT_GUILD_BURST: '5' },
    emulator: {
      users: USERS.map((username) => ({ username })),
      guilds: [{ name: 'Art' }, { name: 'Second' }],
    },
    workers: [{ models: ['sim'], msPerStep: 5 }],
    bots: 2,
  });

  it('admit exactly 5 of 40 simultaneous requests under a limit of 5 jobs per minute', async () => {
    const interactions = await Promise.all(
      Array.from({ length: REQUESTS }, (_, index) =>
        world.imagine(
          { prompt: `request ${index} --steps 2 --count 1` },
          { user: USERS[index % USERS.length] ?? 'alice' },
        ),
      ),
    );
    const answered = await Promise.all(
      interactions.map((interaction) =>
        world.emulator.waitUntil(
          () => {
            const original = interaction.originalMessage();
            if (original !== undefined && isResult(original)) return 'admitted';
            const refusal = interaction.followUps().find((message) => message.ephemeral);
            return refusal === undefined ? undefined : refusal.content;
          },
          20_000,
          `an answer to interaction ${interaction.id}`,
        ),
      ),
    );
    const admitted = answered.filter((answer) => answer === 'admitted');
    const refusals = answered.filter((answer) => answer !== 'admitted');
    expect(admitted).toHaveLength(5);
    expect(refusals).toHaveLength(REQUESTS - 5);
    for (const refusal of refusals) {
      expect(refusal).toMatch(/^This server's limit is 5 jobs per minute; try again in \d+ s\.$/);
    }
    // Each interaction was answered once; the replica that lost the race stayed quiet.
    for (const interaction of interactions) expect(interaction.response).toBeDefined();
    await sleep(300);
    const refusedInPublic = interactions.filter(
      (interaction: EmulatorInteraction) =>
        interaction.originalMessage()?.ephemeral === false && !isResult(interaction.originalMessage()!),
    );
    expect(refusedInPublic).toEqual([]);
    const results = world.emulator.messages.filter(
      (message) => message.deletedAt === undefined && isResult(message),
    );
    expect(results).toHaveLength(5);
    // Both replicas did part of the work, and between them every interaction was handled once.
    const outcomes = await Promise.all(world.bots.map((bot) => interactionOutcomes(bot)));
    for (const handled of outcomes)
      expect((handled.ok ?? 0) + (handled.rate_limited ?? 0)).toBeGreaterThan(0);
    const total = (outcome: string) => outcomes.reduce((sum, handled) => sum + (handled[outcome] ?? 0), 0);
    expect([total('ok'), total('rate_limited'), total('elsewhere')]).toEqual([5, REQUESTS - 5, REQUESTS]);
    // The dashboard's refusals by reason: every refusal was the guild's per-minute limit.
    const refusedBy = await Promise.all(
      world.bots.map(
        async (bot) =>
          (await bot.metrics.registry.getMetricsAsJSON())
            .find((entry) => entry.name === 'sdbot_bot_rate_limited_total')
            ?.values.map((value) => [String(value.labels.reason), value.value] as const) ?? [],
      ),
    );
    const byReason = new Map<string, number>();
    for (const [reason, count] of refusedBy.flat()) byReason.set(reason, (byReason.get(reason) ?? 0) + count);
    expect(Object.fromEntries(byReason)).toEqual({ 'guild-rate': REQUESTS - 5 });
  });
  it('a replica that takes over sees what the other one already admitted', async () => {
    const guildId = world.emulator.guilds[1]?.id ?? '';
    const [first, second] = world.bots;
    if (first === undefined || second === undefined) throw new Error('two bots should be running');
    await world.stopBot(second);
    const send = (count: number, from: number) =>
      Promise.all(
        Array.from({ length: count }, (_, index) =>
          world.imagine({ prompt: `second guild ${from + index} --steps 2 --count 1` }, { guildId }),
        ),
      );
    const answer = (interaction: EmulatorInteraction) =>
      world.emulator.waitUntil(
        () => {
          const original = interaction.originalMessage();
          if (original !== undefined && isResult(original)) return 'admitted';
          return interaction.followUps().find((message) => message.ephemeral) === undefined
            ? undefined
            : 'refused';
        },
        20_000,
        `an answer to interaction ${interaction.id}`,
      );
    const early = await Promise.all((await send(3, 0)).map(answer));
    expect(early).toEqual(['admitted', 'admitted', 'admitted']);
    await world.startBot();
    await world.stopBot(first);
    const late = await Promise.all((await send(10, 3)).map(answer));
    expect(late.filter((result) => result === 'admitted')).toHaveLength(2);
  });
});
