/**
 * Message context commands in the Discord emulator, seen by the real discord.js client: a user posts
 * a message with an image, picks an app from its menu, and the bot gets a
 * MessageContextMenuCommandInteraction with the target message resolved (author, attachments it
 * can download). What Discord refuses (unknown commands, a slash command used as a message
 * command, ephemeral targets, empty or oversized user messages) is refused here too.
 */
import { ApplicationCommandType, Events, MessageFlags, MessageType } from 'discord.js';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { DiscordHttpError, EmulatorUsageError } from '../discord-emulator/index.js';
import { EmulatorSessions } from '../helpers/e2e-emulator.js';

const sessions = new EmulatorSessions();

afterEach(async () => {
  await sessions.closeAll();
});

async function setup(attachmentSizeLimit?: number) {
  const emulator = await sessions.start({
    heartbeatIntervalMs: 500,
    ...(attachmentSizeLimit === undefined ? {} : { attachmentSizeLimit }),
  });
  const client = await sessions.connect(emulator);
  await client.application.commands.set([
    { name: 'Inspect', type: ApplicationCommandType.Message },
    { name: 'imagine', description: 'Draw' },
  ]);
  return { emulator, client };
}

async function png(): Promise<Buffer> {
  return sharp({ create: { width: 16, height: 8, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();
}

describe('message context commands in the emulator', () => {
  it('a user-posted image reaches the bot as the resolved target of a message command', async () => {
    const { emulator, client } = await setup();
    const data = await png();
    const posted = emulator.postUserMessage({
      user: 'bob',
      content: 'mine',
      files: [{ filename: 'pic.png', contentType: 'image/png', data }],
    });
    expect(posted.authorId).toBe(emulator.user('bob').id);
    expect(posted.attachments[0]).toMatchObject({ filename: 'pic.png', width: 16, height: 8 });
    const seen = new Promise<{ target: string; author: string; url: string; bytes: Buffer }>(
      (resolve, reject) => {
        client.once(Events.InteractionCreate, (interaction) => {
          if (!interaction.isMessageContextMenuCommand()) {
            reject(new Error('not a message context command'));
            return;
          }
          const attachment = interaction.targetMessage.attachments.first();
          void (async () => {
            const bytes = Buffer.from(await (await fetch(attachment?.url ?? '')).arrayBuffer());
            await interaction.reply({ content: 'seen', flags: MessageFlags.Ephemeral });
            resolve({
              target: interaction.targetId,
              author: interaction.targetMessage.author.username,
              url: attachment?.url ?? '',
              bytes,
            });
          })().catch(reject);
        });
      },
    );
    const interaction = await emulator.sendMessageCommand({
      name: 'Inspect',
      message: posted,
      user: 'alice',
    });
    const result = await seen;
    expect(result.target).toBe(posted.id);
    expect(result.author).toBe('bob');
    expect(result.bytes.equals(data)).toBe(true);
    const payload = interaction.payload as unknown as { data: Record<string, unknown> };
    expect(payload.data).toMatchObject({
      type: ApplicationCommandType.Message,
      name: 'Inspect',
      target_id: posted.id,
    });
    const original = await interaction.waitForOriginal();
    expect(original).toMatchObject({
      content: 'seen',
      ephemeral: true,
      type: MessageType.ContextMenuCommand,
    });
    // Ephemeral messages have no app menu.
    await expect(emulator.sendMessageCommand({ name: 'Inspect', message: original })).rejects.toThrow(
      /ephemeral/,
    );
  });

  it('refuses what Discord refuses', async () => {
    const { emulator } = await setup(1024);
    const posted = emulator.postUserMessage({ content: 'text only' });
    await expect(emulator.sendMessageCommand({ name: 'Unknown', message: posted })).rejects.toThrow(
      EmulatorUsageError,
    );
    // A slash command is not in a message's app menu.
    await expect(emulator.sendMessageCommand({ name: 'imagine', message: posted })).rejects.toThrow(
      /not registered/,
    );
    expect(() => emulator.postUserMessage({ content: '' })).toThrow(DiscordHttpError);
    expect(() =>
      emulator.postUserMessage({ files: [{ filename: 'big.png', data: Buffer.alloc(2048) }] }),
    ).toThrow(DiscordHttpError);
    expect(() => emulator.postUserMessage({ content: 'x'.repeat(2001) })).toThrow(DiscordHttpError);
  });
});
