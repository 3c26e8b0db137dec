/**
 * The bot runs as the `sdbot-bot` NATS user of deploy/nats/accounts.conf: every flow (submit,
 * progress, result, buttons, cancel, settings, /queue, a replica taking over) works within its
 * permissions, without a single violation in the server's log.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customIdsOf } from '../discord-emulator/index.js';
import {
  BotWorld,
  FAST_BOT_ENV,
  buttonLabels,
  isResult,
  privateAnswer,
  resultOf,
} from '../helpers/bot-world.js';
import { runSdbot } from '../helpers/cli.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { botEnv, passwords, workerEnv } from '../helpers/nats-users.js';
import { repositoryRoot } from '../helpers/shared-fixtures.js';

const hasNats = natsServerAvailable();

describe.skipIf(!hasNats)(
  `the bot as the sdbot-bot NATS user${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    let world: BotWorld;

    beforeAll(async () => {
      Object.assign(process.env, passwords);
      world = await BotWorld.start({
        nats: { include: [join(repositoryRoot, 'deploy/nats/accounts.conf')] },
        workers: [],
      });
      const setup = await runSdbot(['nats', 'setup', '--nats', world.nats.url], {
        ...FAST_BOT_ENV,
        ...botEnv,
      });
      expect(setup.code).toBe(0);
      await world.startWorker({ models: ['sim'], msPerStep: 30, env: workerEnv });
      await world.startBot({}, botEnv);
    });

    afterAll(async () => {
      await world.cleanup();
      expect(world.emulator.errors).toEqual([]);
    });

    it('runs every bot flow without a permission violation', async () => {
      const { emulator } = world;
      const result = await resultOf(await world.imagine({ prompt: 'secure --steps 6 --count 2' }));
      const id = (label: string) => customIdsOf(result)[buttonLabels(result).indexOf(label)] ?? '';
      const single = await emulator.clickButton({ message: result, customId: id('U1') });
      await single.waitForOriginal(isResult, 10_000);
      await resultOf(await emulator.clickButton({ message: result, customId: id('V2') }));

      const slow = await world.imagine({ prompt: 'slow --steps 150 --count 1' });
      const running = await slow.waitForOriginal((message) => /step \d+\/150/.test(message.content), 10_000);
      const queue = await privateAnswer(world, await emulator.sendCommand({ name: 'queue' }));
      expect(queue).toMatch(/\*\*Your jobs\*\* \(1\)/);
      // The job moves to another replica, which then hears the cancel and says so.
      const [first] = world.bots;
      await world.startBot({}, botEnv);
      if (first !== undefined) await world.stopBot(first);
      const cancel = customIdsOf(running).find((customId) => customId.startsWith('sdbot:c:')) ?? '';
      await emulator.clickButton({ message: running, customId: cancel });
      await slow.waitForOriginal((message) => message.content.includes('cancelled'), 10_000);

      const settings = await emulator.sendCommand({
        name: 'settings',
        subcommand: 'set',
        options: { key: 'max-steps', value: '50' },
        memberPermissions: ['ManageGuild'],
      });
      expect(await privateAnswer(world, settings)).toBe('`max-steps` is now 50.');
      await privateAnswer(world, await emulator.sendCommand({ name: 'info' }));

      expect(world.nats.log).not.toMatch(/Violation/);
    });
  },
);
