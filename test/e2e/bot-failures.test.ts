/**
 * Failing dependencies: while NATS is down the bot answers with a clear, retryable error instead of
 * hanging or crashing, and it works again as soon as NATS is back; Discord failing the first answer
 * to an interaction leaves the bot running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useBotWorld, privateAnswer, resultOf } from '../helpers/bot-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();

describe.skipIf(!hasNats)(`failing dependencies${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useBotWorld({ workers: [{ models: ['sim'], msPerStep: 5 }] });

  it(
    'answers privately that NATS is unavailable while it is down, and works once it is back',
    { timeout: 120_000 },
    async () => {
      await world.nats.kill();
      const interaction = await world.imagine({ prompt: 'while NATS is down --count 1' });
      // The bot first retries through what may be a restart (30 s), then tells the member.
      const answer = await privateAnswer(world, interaction, 60_000);
      expect(answer).toBe(
        'Something went wrong on my side (NATS_UNAVAILABLE); please try again in a moment.',
      );
      expect(interaction.originalMessage()?.ephemeral ?? true).toBe(true);

      await world.nats.start();
      const { client } = await world.jobs();
      for (
        let attempt = 0;
        attempt < 100 && (await client.servedModels().catch(() => [])).length === 0;
        attempt += 1
      ) {
        await sleep(100);
      }
      await resultOf(await world.imagine({ prompt: 'NATS is back --steps 2 --count 1' }), 30_000);
    },
  );

  it('keeps running when Discord fails the first answer to an interaction', async () => {
    world.emulator.injectFault({
      route: 'POST /interactions/:interaction/:token/callback',
      status: 500,
      times: 8,
    });
    const failed = await world.imagine({ prompt: 'Discord is failing --count 1' });
    await world.emulator.waitUntil(
      () => (world.emulator.calls.filter((call) => call.fault).length >= 4 ? true : undefined),
      15_000,
    );
    expect(failed.response).toBeUndefined();
    world.emulator.clearFaults();
    await resultOf(await world.imagine({ prompt: 'Discord is fine again --steps 2 --count 1' }));
  });
});
