/**
 * A result that goes to the channel (the interaction can no longer be used) is posted with a nonce
 * derived from the job id and `enforce_nonce`: an instance that posts it again after a restart (it
 * died between posting and clearing its delivery record) gets Discord's first message back instead
 * of a second post.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelPostNonce, postToChannel } from '../../bot/src/service/discord.js';
import type { OutgoingMessage } from '../../bot/src/delivery/views.js';
import { BotWorld } from '../helpers/bot-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();

describe.skipIf(!hasNats)('channel posts of results', () => {
  let world: BotWorld;

  beforeAll(async () => {
    world = await BotWorld.start({ workers: [] });
  });

  afterAll(async () => {
    await world.cleanup();
    expect(world.emulator.errors).toEqual([]);
  });

  it('two instances posting the same job to the channel make one message', async () => {
    const channelId = world.emulator.channel('general').id;
    const message: OutgoingMessage = {
      content: 'the result of job discord-42',
      embeds: [],
      components: [],
      files: [{ name: 'grid.png', data: Buffer.from('not really a png') }],
      mentionUsers: [],
    };
    const first = await world.startBot();
    await postToChannel(first.client, channelId, message, { nonce: channelPostNonce('discord-42') });
    // The instance dies before it clears its record; its successor posts the same result again.
    await world.stopBot(first);
    const second = await world.startBot();
    await postToChannel(second.client, channelId, message, { nonce: channelPostNonce('discord-42') });
    const posted = world.emulator.channelMessages(channelId).filter((m) => m.content === message.content);
    expect(posted).toHaveLength(1);
    // Another job's result is its own message.
    await postToChannel(
      second.client,
      channelId,
      { ...message, content: 'job discord-43' },
      {
        nonce: channelPostNonce('discord-43'),
      },
    );
    expect(world.emulator.channelMessages(channelId)).toHaveLength(2);
    await world.stopBot(second);
  });
});
