/**
 * One request path: the V and re-roll buttons pass the same server policy as /imagine. For each
 * check, a picture is made while it is allowed, the server's settings (or the workers online)
 * change, and then the buttons under that picture are refused just as the command is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorInteraction, EmulatorMessage } from '../discord-emulator/index.js';
import { BotWorld, jobIdOf, privateAnswer, resultOf } from '../helpers/bot-world.js';
import { ADMIN, buttonId } from '../helpers/e2e-bot.js';
import { asGenerationJob } from '../helpers/messages.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();

interface SettingsChange {
  subcommand: string;
  subcommandGroup?: string;
  options: Record<string, string>;
}

describe.skipIf(!hasNats)(
  `buttons pass the server's policy like /imagine${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    let world: BotWorld;

    beforeAll(async () => {
      world = await BotWorld.start({
        env: { SDBOT_MAX_PIXELS: '16384' },
        workers: [
          { models: ['sim'], msPerStep: 5 },
          { models: ['sim2'], msPerStep: 5 },
        ],
      });
      await world.startBot();
    });

    afterAll(async () => {
      await world.cleanup();
      expect(world.emulator.errors).toEqual([]);
    });

    async function changeSettings(...changes: SettingsChange[]): Promise<void> {
      for (const change of changes) {
        const interaction = await world.emulator.sendCommand({
          name: 'settings',
          ...change,
          memberPermissions: [...ADMIN],
        });
        expect(await privateAnswer(world, interaction)).not.toMatch(/wrong|must/);
      }
    }

    /** The refusal, answered privately, with nothing public left behind. */
    async function refusal(interaction: EmulatorInteraction): Promise<string> {
      const answer = await privateAnswer(world, interaction);
      const original = interaction.originalMessage();
      expect(original === undefined || original.ephemeral).toBe(true);
      return answer;
    }

    /** Clicks Re-roll and V1 under `picture`; both must be refused with `expected`. */
    async function expectButtonsRefused(picture: EmulatorMessage, expected: RegExp, user?: string) {
      for (const label of ['Re-roll', 'V1']) {
        const click = await world.emulator.clickButton({
          message: picture,
          customId: buttonId(picture, label),
          ...(user === undefined ? {} : { user }),
        });
        expect(await refusal(click), label).toMatch(expected);
      }
    }

    it('refuses buttons in a channel the server no longer allows', async () => {
      const picture = await resultOf(await world.imagine({ prompt: 'a lighthouse --count 1' }));
      const allowed = world.emulator.channel('nsfw').id;
      await changeSettings({
        subcommandGroup: 'channels',
        subcommand: 'allow',
        options: { channel: allowed },
      });
      const expected = new RegExp(`^This server allows /imagine only in <#${allowed}>\\.$`);
      expect(await refusal(await world.imagine({ prompt: 'a lighthouse --count 1' }))).toMatch(expected);
      await expectButtonsRefused(picture, expected);
      await changeSettings({
        subcommandGroup: 'channels',
        subcommand: 'disallow',
        options: { channel: allowed },
      });
    });

    it('refuses buttons whose prompt has a word the server banned since', async () => {
      const picture = await resultOf(await world.imagine({ prompt: 'a Lighthouse at dusk --count 1' }));
      await changeSettings({
        subcommandGroup: 'banned-words',
        subcommand: 'add',
        options: { words: 'lighthouse' },
      });
      const expected = /^This server does not allow "lighthouse" in prompts\.$/;
      expect(await refusal(await world.imagine({ prompt: 'a lighthouse at dusk' }))).toMatch(expected);
      await expectButtonsRefused(picture, expected);
      await changeSettings({
        subcommandGroup: 'banned-words',
        subcommand: 'remove',
        options: { words: 'lighthouse' },
      });
    });

    it('refuses buttons over the steps, count and pixel caps the server lowered since', async () => {
      const picture = await resultOf(
        await world.imagine({ prompt: 'a lighthouse --steps 6 --count 3 --w 128 --h 64' }),
      );
      await changeSettings(
        { subcommand: 'set', options: { key: 'max-steps', value: '4' } },
        { subcommand: 'set', options: { key: 'max-count', value: '2' } },
        { subcommand: 'set', options: { key: 'max-pixels', value: '4096' } },
      );
      const command = await refusal(
        await world.imagine({ prompt: 'a lighthouse --steps 6 --count 3 --w 128 --h 64' }),
      );
      expect(command).toMatch(/--steps 6: must be at most 4 on this server/);
      expect(command).toMatch(/--count 3: must be at most 2 on this server/);
      expect(command).toMatch(/--w 128 --h 64: width x height must be at most 4096 pixels on this server/);
      const reroll = await world.emulator.clickButton({
        message: picture,
        customId: buttonId(picture, 'Re-roll'),
      });
      expect(await refusal(reroll)).toMatch(
        /steps: must be at most 4 on this server \(got 6\).*count: must be at most 2 on this server \(got 3\).*width x height: must be at most 4096 pixels on this server \(got 128x64 = 8192\)/s,
      );
      // A variation lowers its image count to the cap on its own; steps and size it keeps.
      const variation = await world.emulator.clickButton({
        message: picture,
        customId: buttonId(picture, 'V1'),
      });
      const answer = await refusal(variation);
      expect(answer).toMatch(/steps: must be at most 4 on this server \(got 6\)/);
      expect(answer).toMatch(/width x height: must be at most 4096 pixels on this server/);
      expect(answer).not.toMatch(/count/);
      await changeSettings(
        { subcommand: 'reset', options: { key: 'max-steps' } },
        { subcommand: 'reset', options: { key: 'max-pixels' } },
      );
      const fewer = await resultOf(
        await world.emulator.clickButton({ message: picture, customId: buttonId(picture, 'V1') }),
      );
      const { client } = await world.jobs();
      expect(asGenerationJob((await client.state(jobIdOf(fewer)))?.job).count).toBe(2);
      await changeSettings({ subcommand: 'reset', options: { key: 'max-count' } });
    });

    it('refuses buttons for a model no worker serves any more', async () => {
      const picture = await resultOf(await world.imagine({ prompt: 'a lighthouse --model sim2 --count 1' }));
      const sim2 = world.workers[1];
      if (sim2 === undefined) throw new Error('no sim2 worker');
      await sim2.stop();
      expect(await refusal(await world.imagine({ prompt: 'a lighthouse --model sim2' }))).toMatch(
        /^--model sim2: is not served right now; available: sim$/,
      );
      await expectButtonsRefused(picture, /^model: sim2 is not served right now; available: sim$/);
    });

    it("refuses buttons over the member's rate limit", async () => {
      await changeSettings(
        { subcommand: 'set', options: { key: 'user-jobs-per-minute', value: '1' } },
        { subcommand: 'set', options: { key: 'user-burst', value: '1' } },
      );
      const picture = await resultOf(
        await world.imagine({ prompt: 'a lighthouse --count 1' }, { user: 'bob' }),
      );
      const expected = /^Your limit here is 1 job per minute; try again in (\d+ s|1 min)\.$/;
      expect(await refusal(await world.imagine({ prompt: 'a lighthouse' }, { user: 'bob' }))).toMatch(
        expected,
      );
      await expectButtonsRefused(picture, expected, 'bob');
      await changeSettings(
        { subcommand: 'reset', options: { key: 'user-jobs-per-minute' } },
        { subcommand: 'reset', options: { key: 'user-burst' } },
      );
    });
  },
);
