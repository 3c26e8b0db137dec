/**
 * The bot's other commands and policies end to end: /settings changes what /imagine and the V
 * buttons do, /queue and /info report from NATS, model autocomplete lists the workers' models,
 * images the safety filter withheld are never offered (spoilered only where the server allows it),
 * and a result over the upload limit is re-encoded to fit.
 */
import { describe, expect, it } from 'vitest';
import type { EmulatorMessage } from '../discord-emulator/index.js';
import { BotWorld, useBotWorld, imageSize, jobIdOf, privateAnswer, resultOf } from '../helpers/bot-world.js';
import { adminSettings, buttonId } from '../helpers/e2e-bot.js';
import { asGenerationJob } from '../helpers/messages.js';
import { FlaggingGenerator } from '../helpers/flagging-generator.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();
function disabledButtons(message: EmulatorMessage): string[] {
  const labels: string[] = [];
  for (const row of message.components) {
    if (!('components' in row)) continue;
    for (const component of row.components) {
      if ('disabled' in component && component.disabled && 'label' in component) {
        labels.push(component.label ?? '');
      }
    }
  }
  return labels;
}

describe.skipIf(!hasNats)(
  `/settings, /queue, /info and result policies${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    const world = useBotWorld({ workers: [{ generator: new FlaggingGenerator() }] });

    const settings = adminSettings(world);

    it('/settings shows and changes the server settings, and V buttons use the variation strength', async () => {
      expect(await settings('view')).toMatch(/\*\*Settings of this server\*\* \(all the bot's defaults\)/);
      expect(await settings('set', { key: 'strong-strength', value: '0.3' })).toBe(
        '`strong-strength` is now 0.3.',
      );
      expect(await settings('set', { key: 'default-scheduler', value: 'Euler a' })).toBe(
        '`default-scheduler` is now euler_a (Euler a).',
      );
      expect(await settings('add', { words: 'Gore, blood bath' }, 'banned-words')).toBe(
        '2 banned words: gore, blood bath',
      );
      const view = await settings('view');
      expect(view).toContain('`strong-strength`: 0.3');
      expect(view).toContain('`banned-words`: 2');
      expect(view).toMatch(/last changed <t:\d+:R> by <@\d+>/);

      const result = await resultOf(await world.imagine({ prompt: 'a lighthouse --count 2' }));
      expect(result.embeds[0]?.fields?.find((field) => field.name === 'Scheduler')?.value).toBe('Euler a');
      const click = await world.emulator.clickButton({ message: result, customId: buttonId(result, 'V1') });
      const variation = await resultOf(click);
      const { client } = await world.jobs();
      expect(asGenerationJob((await client.state(jobIdOf(variation)))?.job).strength).toBe(0.3);

      expect(await settings('reset', { key: 'strong-strength' })).toBe(
        "`strong-strength` is back to the bot's default: 0.75.",
      );
      expect(await settings('reset', { key: 'banned-words' })).toBe('No banned words.');
    });

    it('withholds filtered images: the embed counts them and their U and V buttons are disabled', async () => {
      const result = await resultOf(await world.imagine({ prompt: 'a risky picture --count 4' }));
      expect(result.embeds[0]?.fields?.find((field) => field.name === 'Safety filter')?.value).toBe(
        '1 of 4 images was withheld by the safety filter.',
      );
      expect(disabledButtons(result)).toEqual(['U2', 'V2']);
      expect(result.attachments[0]?.filename).not.toMatch(/^SPOILER_/);
    });

    it('spoilers results with filtered images in age-restricted channels only when the server allows it', async () => {
      const nsfw = world.emulator.channel('nsfw').id;
      const blocked = await resultOf(
        await world.imagine({ prompt: 'in the nsfw channel --count 2' }, { channelId: nsfw }),
      );
      expect(blocked.attachments[0]?.filename).not.toMatch(/^SPOILER_/);

      // The policy's old name still works; it is stored under the new one.
      expect(await settings('set', { key: 'nsfw-policy', value: 'spoiler-in-age-restricted' })).toBe(
        '`nsfw-policy` is now allow-in-age-restricted.',
      );
      const spoilered = await resultOf(
        await world.imagine({ prompt: 'allowed here --count 2' }, { channelId: nsfw }),
      );
      expect(spoilered.attachments[0]?.filename).toMatch(/^SPOILER_sdbot-discord-\d+\.png$/);
      // An embed would show the image unblurred, so it does not point at the attachment.
      expect(spoilered.embeds[0]?.image).toBeUndefined();
      const general = await resultOf(await world.imagine({ prompt: 'not an nsfw channel --count 2' }));
      expect(general.attachments[0]?.filename).not.toMatch(/^SPOILER_/);
      await settings('reset', { key: 'nsfw-policy' });
    });

    it('/queue shows where the member’s jobs are, the queue depth and the workers online', async () => {
      const slow = await world.imagine({ prompt: 'a long one --steps 100 --count 1' });
      await slow.waitForOriginal((message) => message.content.includes('step'), 10_000);
      const waiting = await world.imagine({ prompt: 'waiting behind it --steps 2 --count 1' });
      await waiting.waitForOriginal((message) => message.content.includes('queued'), 10_000);
      const answer = await privateAnswer(world, await world.emulator.sendCommand({ name: 'queue' }));
      expect(answer).toMatch(/\*\*Your jobs\*\* \(2\):/);
      expect(answer).toMatch(/`a long one`: step \d+\/100/);
      expect(answer).toMatch(/`waiting behind it`: queued, 0 jobs ahead/);
      expect(answer).toMatch(/`sim`: 1 waiting, 1 running, 1 worker/);
      expect(answer).toContain('**Workers online**: 1');
      const others = await privateAnswer(
        world,
        await world.emulator.sendCommand({ name: 'queue', user: 'bob' }),
      );
      expect(others).toMatch(/^You have no jobs waiting or running here\./);
      await world.emulator.clickButton({
        message: slow.originalMessage() ?? '',
        customId: buttonId(slow.originalMessage()!, 'Cancel'),
      });
      await resultOf(waiting);
    });

    it("frees a member's slot when a job is cancelled or finishes", async () => {
      expect(await settings('set', { key: 'user-max-concurrent', value: '1' })).toBe(
        '`user-max-concurrent` is now 1.',
      );
      const slow = await world.imagine({ prompt: 'holding the slot --steps 150 --count 1' });
      const running = await slow.waitForOriginal((message) => message.content.includes('step'), 10_000);
      const refused = await world.imagine({ prompt: 'one too many --count 1' });
      expect(await privateAnswer(world, refused)).toBe(
        'You already have 1 job queued or running, the most allowed here; try again when one finishes.',
      );
      await world.emulator.clickButton({ message: running, customId: buttonId(running, 'Cancel') });
      await slow.waitForOriginal((message) => message.content.includes('cancelled'), 10_000);
      await resultOf(await world.imagine({ prompt: 'after the cancel --steps 2 --count 1' }));
      await resultOf(await world.imagine({ prompt: 'after the result --steps 2 --count 1' }));
      await settings('reset', { key: 'user-max-concurrent' });
    });

    it('/info lists the models with their safety checker, versions, limits and flags', async () => {
      await settings('set', { key: 'max-steps', value: '40' });
      const answer = await privateAnswer(world, await world.emulator.sendCommand({ name: 'info' }));
      expect(answer).toContain('**Models** (1 worker online):');
      expect(answer).toContain('- `sim` (sim (simulated)): safety checker on, 1 worker, simulated');
      expect(answer).toMatch(/\*\*Versions\*\*: bot \d+\.\d+\.\d+; workers test/);
      expect(answer).toMatch(
        /steps up to 40 \(default 6\), up to 4 images per request, width x height up to 4096 pixels/,
      );
      expect(answer).toMatch(/\*\*Rate limits\*\*: 1000 jobs per minute for the server/);
      expect(answer).toContain('--ar, --aspect, --no, --seed');
      expect(answer).toContain('**Prompt syntax**: A1111: `(word)`, `(word:1.3)`, `[word]`');
    });

    it('autocompletes the model option from the workers online', async () => {
      const interaction = await world.emulator.sendAutocomplete({
        name: 'imagine',
        options: { prompt: 'a cat', model: 'si' },
        focused: 'model',
      });
      await interaction.waitForResponse();
      expect(interaction.autocompleteChoices).toEqual([{ name: 'sim (simulated) (sim)', value: 'sim' }]);
    });
  },
);

describe.skipIf(!hasNats)(
  `results over the upload limit${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    it('are re-encoded to fit, and the embed says the quality was reduced', async () => {
      const world = await BotWorld.start({
        env: { SDBOT_MAX_PIXELS: String(384 * 384) },
        emulator: { attachmentSizeLimit: 20 * 1024 },
        workers: [{ models: ['sim'], msPerStep: 5 }],
      });
      try {
        await world.startBot({ progressIntervalMs: 60_000 });
        const result = await resultOf(await world.imagine({ prompt: 'a big picture --steps 2' }), 30_000);
        const attachment = result.attachments[0];
        expect(attachment?.size).toBeLessThanOrEqual(20 * 1024);
        expect(attachment?.filename).toMatch(/\.(webp|jpg)$/);
        const size = await imageSize(attachment?.data ?? Buffer.alloc(0));
        expect(['webp', 'jpeg']).toContain(size.format);
        expect(result.embeds[0]?.fields?.find((field) => field.name === 'Attachment')?.value).toMatch(
          /is over the 20 KiB upload limit here, so this is a (WebP|JPEG) at quality \d+/,
        );
      } finally {
        await world.cleanup();
      }
    });
  },
);
