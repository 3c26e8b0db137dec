/**
 * The bot end to end: the Discord emulator drives the real discord.js client of `startBot`, jobs go
 * through a real nats-server to simulated workers, and results come back as grids with buttons.
 */
import { InteractionResponseType } from 'discord.js';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { EmulatorMessage } from '../discord-emulator/index.js';
import { useBotWorld, buttonLabels, imageSize, isResult } from '../helpers/bot-world.js';
import { jobIdOf, privateAnswer, resultOf } from '../helpers/bot-world.js';
import { attachmentOf, buttonId } from '../helpers/e2e-bot.js';
import { asGenerationJob } from '../helpers/messages.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();

describe.skipIf(!hasNats)(
  `the bot's /imagine and buttons${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    // 8 steps of 60 ms: long enough for a preview (every 2 steps) to be read back and reach an edit
    // (every 150 ms) before the result, also on a loaded machine.
    const world = useBotWorld({ workers: [{ models: ['sim'], msPerStep: 60 }] });
    let grid: EmulatorMessage;

    it('defers at once, shows progress, and ends with a 2x2 grid PNG, an embed and the ten buttons', async () => {
      const interaction = await world.imagine({ prompt: 'a lighthouse at dusk --steps 8 --seed 1000' });
      const response = await interaction.waitForResponse();
      expect(response.type).toBe(InteractionResponseType.DeferredChannelMessageWithSource);
      expect(response.latencyMs).toBeLessThan(3000);

      grid = await resultOf(interaction);
      const edits = world.emulator.calls.filter(
        (call) =>
          call.route === 'PATCH /webhooks/:app/:token/messages/@original' &&
          call.path.includes(interaction.token),
      );
      const contents = edits.map((call) => (call.body as { content?: string } | undefined)?.content ?? '');
      expect(contents.some((text) => /step \d+\/8/.test(text))).toBe(true);
      // Progress carried a preview image at some point.
      expect(edits.some((call) => call.files.some((file) => file.name === 'preview.png'))).toBe(true);

      expect(grid.ephemeral).toBe(false);
      expect(grid.attachments).toHaveLength(1);
      const png = attachmentOf(grid);
      expect(await imageSize(png)).toEqual({ width: 128, height: 128, format: 'png' });
      expect(buttonLabels(grid)).toEqual([
        'U1',
        'U2',
        'U3',
        'U4',
        'Re-roll',
        'V1',
        'V2',
        'V3',
        'V4',
        'Delete',
      ]);
      const embed = grid.embeds[0];
      expect(embed?.description).toBe('a lighthouse at dusk');
      const fields = Object.fromEntries((embed?.fields ?? []).map((field) => [field.name, field.value]));
      expect(fields).toMatchObject({
        Seeds: '1000, 1001, 1002, 1003',
        Steps: '8',
        Scheduler: 'PNDM',
        Size: '64x64',
        Model: 'sim',
      });
      expect(fields.Time).toMatch(/waited/);
      expect(grid.content).toContain(`<@${world.emulator.users[0]?.id ?? ''}>`);
    });

    it('shows the queue position of a job waiting behind another', async () => {
      const first = await world.imagine({ prompt: 'first in line --steps 10 --count 1' });
      const second = await world.imagine({ prompt: 'second in line --steps 2 --count 1' }, { user: 'bob' });
      await second.waitForOriginal((message) => message.content.includes('queued'));
      await Promise.all([resultOf(first), resultOf(second)]);
    });

    it('U2 posts image 2 alone at full size, with its own V2, re-roll and delete buttons', async () => {
      const click = await world.emulator.clickButton({
        message: grid,
        customId: buttonId(grid, 'U2'),
        user: 'bob',
      });
      const single = await click.waitForOriginal(isResult, 10_000);
      const png = attachmentOf(single);
      expect(await imageSize(png)).toEqual({ width: 64, height: 64, format: 'png' });
      // It is the top-right tile of the grid.
      const tile = await sharp(attachmentOf(grid))
        .extract({ left: 64, top: 0, width: 64, height: 64 })
        .removeAlpha()
        .raw()
        .toBuffer();
      expect(await sharp(png).removeAlpha().raw().toBuffer()).toEqual(tile);
      expect(buttonLabels(single)).toEqual(['V2', 'Re-roll', 'Delete']);
      expect(single.embeds[0]?.title).toMatch(/^Image 2/);
      expect(single.embeds[0]?.fields?.find((field) => field.name === 'Seed')?.value).toBe('1001');
    });

    it('V3 runs a variation of image 3: img2img from it at the strong variation strength', async () => {
      const click = await world.emulator.clickButton({ message: grid, customId: buttonId(grid, 'V3') });
      const variation = await resultOf(click);
      expect(variation.embeds[0]?.title).toBe('Variation of image 3');
      const { client } = await world.jobs();
      const state = await client.state(jobIdOf(variation));
      expect(state?.job).toMatchObject({
        kind: 'variation',
        strength: 0.75,
        prompt: 'a lighthouse at dusk',
        syntax: 'a1111',
        steps: 8,
        source: { index: 2, jobId: jobIdOf(grid) },
      });
      expect(state?.job.source?.image.name).toBe(`${jobIdOf(grid)}/2.png`);
    });

    it('re-roll repeats the request with new seeds', async () => {
      const click = await world.emulator.clickButton({ message: grid, customId: buttonId(grid, 'Re-roll') });
      const rerolled = await resultOf(click);
      const { client } = await world.jobs();
      const [before, after] = await Promise.all([
        client.state(jobIdOf(grid)),
        client.state(jobIdOf(rerolled)),
      ]);
      const [parent, child] = [asGenerationJob(before?.job), asGenerationJob(after?.job)];
      expect(child).toMatchObject({
        kind: 'txt2img',
        prompt: parent.prompt,
        syntax: 'a1111',
        steps: parent.steps,
        count: parent.count,
      });
      expect(child.seed).not.toBe(parent.seed);
      expect(attachmentOf(rerolled)).not.toEqual(attachmentOf(grid));
    });

    it('delete is refused to other members and done for the requester or a member who can manage messages', async () => {
      const refused = await world.emulator.clickButton({
        message: grid,
        customId: buttonId(grid, 'Delete'),
        user: 'bob',
      });
      expect(await privateAnswer(world, refused)).toMatch(/Only the person who asked for this picture/);
      expect(world.emulator.message(grid.id)).toBeDefined();

      const other = await world.imagine({ prompt: 'a moderated picture --count 1' });
      const result = await resultOf(other);
      await world.emulator.clickButton({
        message: result,
        customId: buttonId(result, 'Delete'),
        user: 'bob',
        memberPermissions: ['ManageMessages', 'ViewChannel', 'SendMessages'],
      });
      await world.emulator.waitUntil(() =>
        world.emulator.message(result.id) === undefined ? true : undefined,
      );

      await world.emulator.clickButton({ message: grid, customId: buttonId(grid, 'Delete') });
      await world.emulator.waitUntil(() =>
        world.emulator.message(grid.id) === undefined ? true : undefined,
      );
    });

    it('cancel stops a running job for its requester and is refused to others', async () => {
      const interaction = await world.imagine({ prompt: 'a very slow picture --steps 150 --count 1' });
      const running = await interaction.waitForOriginal(
        (message) => /step \d+\/150/.test(message.content),
        10_000,
      );
      const cancelId = buttonId(running, 'Cancel');
      const refused = await world.emulator.clickButton({ message: running, customId: cancelId, user: 'bob' });
      expect(await privateAnswer(world, refused)).toMatch(/can cancel it/);

      await world.emulator.clickButton({ message: running, customId: cancelId });
      const cancelled = await interaction.waitForOriginal(
        (message) => message.content.includes('cancelled'),
        10_000,
      );
      expect(cancelled.content).toContain(`cancelled by <@${world.emulator.users[0]?.id ?? ''}>`);
      expect(cancelled.components).toEqual([]);
      const { client } = await world.jobs();
      expect((await client.state(`discord-${interaction.id}`))?.status.state).toBe('cancelled');
    });

    it('buttons keep working after the bot restarts', async () => {
      const interaction = await world.imagine({ prompt: 'before the restart --count 2' });
      const result = await resultOf(interaction);
      for (const bot of [...world.bots]) await world.stopBot(bot);
      await world.startBot();
      const click = await world.emulator.clickButton({ message: result, customId: buttonId(result, 'U2') });
      const single = await click.waitForOriginal(isResult, 10_000);
      expect(buttonLabels(single)).toEqual(['V2', 'Re-roll', 'Delete']);
      const reroll = await world.emulator.clickButton({
        message: result,
        customId: buttonId(result, 'Re-roll'),
      });
      expect(buttonLabels(await resultOf(reroll))).toEqual(['U1', 'U2', 'Re-roll', 'V1', 'V2', 'Delete']);
    });
  },
);
