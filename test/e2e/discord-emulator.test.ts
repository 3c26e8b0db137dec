/**
 * The Discord emulator driving the real discord.js client: login, command registration,
 * interactions and their responses, rate limits, server errors, expired tokens, gateway resumes
 * and Discord's validation errors, each as discord.js sees them.
 */
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  Client,
  ComponentType,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  GatewayOpcodes,
  InteractionResponseType,
  LabelBuilder,
  MessageFlags,
  ModalBuilder,
  REST,
  Routes,
  StringSelectMenuBuilder,
  TextInputBuilder,
  TextInputStyle,
  type APIActionRowComponent,
  type APIButtonComponent,
  type ChatInputCommandInteraction,
  type Interaction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type TextChannel,
} from 'discord.js';
import { once } from 'node:events';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type DiscordEmulatorOptions } from '../discord-emulator/index.js';
import { EmulatorSessions } from '../helpers/e2e-emulator.js';

const IMAGINE: RESTPostAPIChatInputApplicationCommandsJSONBody = {
  name: 'imagine',
  description: 'Generate an image',
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: 'prompt',
      description: 'What to draw',
      required: true,
    },
    {
      type: ApplicationCommandOptionType.Integer,
      name: 'steps',
      description: 'Denoising steps',
      min_value: 1,
      max_value: 150,
    },
  ],
};

const sessions = new EmulatorSessions();
const handlerErrors: unknown[] = [];

afterEach(async () => {
  await sessions.closeAll();
  expect(handlerErrors.splice(0)).toEqual([]);
});

/** An emulator, a logged-in client and /imagine registered globally. */
async function setup(options: DiscordEmulatorOptions = {}) {
  const emulator = await sessions.start({ heartbeatIntervalMs: 500, ...options });
  const client = await sessions.connect(emulator);
  await client.application.commands.set([IMAGINE]);
  return { emulator, client };
}

/** Runs the handler for every interaction; its failures fail the test in afterEach. */
function onInteraction(client: Client, handler: (interaction: Interaction) => Promise<void>): void {
  client.on(Events.InteractionCreate, (interaction) => {
    handler(interaction).catch((error: unknown) => {
      handlerErrors.push(error);
    });
  });
}

/** Resolves with what the bot's handler returns for the next interaction (or the error it throws). */
function nextOutcome<T>(
  client: Client,
  handler: (interaction: Interaction) => Promise<T>,
): Promise<T | Error> {
  return new Promise((resolve) => {
    client.once(Events.InteractionCreate, (interaction) => {
      handler(interaction).then(resolve, (error: unknown) => {
        resolve(error instanceof Error ? error : new Error(String(error)));
      });
    });
  });
}

/** A promise the test resolves when it chooses. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Defers the next command, waits until `opened`, then answers; resolves with the answer or its error. */
function deferThenAnswer(
  client: Client,
  opened: Promise<void>,
  answer: (interaction: ChatInputCommandInteraction) => Promise<unknown>,
): Promise<unknown> {
  return nextOutcome(client, async (interaction) => {
    if (!interaction.isChatInputCommand()) throw new Error('expected a command');
    await interaction.deferReply();
    await opened;
    return answer(interaction).catch((error: unknown) => error);
  });
}

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();
}

function buttonRow(...customIds: string[]) {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    customIds.map((id) => new ButtonBuilder().setCustomId(id).setLabel(id).setStyle(ButtonStyle.Secondary)),
  );
}

function rawButtonRow(customIds: string[]): APIActionRowComponent<APIButtonComponent> {
  return {
    type: ComponentType.ActionRow,
    components: customIds.map((id) => ({
      type: ComponentType.Button,
      style: ButtonStyle.Primary,
      custom_id: id,
      label: 'go',
    })),
  };
}

function expectApiError(outcome: unknown, status: number, code: number): DiscordAPIError {
  expect(outcome).toBeInstanceOf(DiscordAPIError);
  const error = outcome as DiscordAPIError;
  expect({ status: error.status, code: error.code }).toEqual({ status, code });
  return error;
}

describe('discord.js against the Discord emulator', () => {
  it('logs in: READY and GUILD_CREATE fill the caches, and the bot token is never recorded', async () => {
    const emulator = await sessions.start({
      guilds: [
        {
          name: 'Art Club',
          channels: [{ name: 'lobby' }, { name: 'after-dark', nsfw: true }],
          roles: [{ name: 'Moderators', permissions: ['ManageMessages'] }],
        },
      ],
    });
    const client = await sessions.connect(emulator);

    expect(client.user.id).toBe(emulator.applicationId);
    expect(client.application.id).toBe(emulator.applicationId);
    const guild = client.guilds.cache.first();
    expect(guild?.name).toBe('Art Club');
    expect(guild?.available).toBe(true);
    expect(guild?.channels.cache.map((c) => [c.name, c.type === ChannelType.GuildText && c.nsfw])).toEqual([
      ['lobby', false],
      ['after-dark', true],
    ]);
    expect(guild?.roles.everyone.id).toBe(guild?.id);
    expect(guild?.roles.cache.map((role) => role.name)).toEqual(
      expect.arrayContaining(['@everyone', 'Moderators', 'sdbot']),
    );
    expect(guild?.members.me?.id).toBe(client.user.id);
    const application = await client.application.fetch();
    expect(application.name).toBe('sdbot');

    const identify = emulator.gatewayFrames.find(
      (f) => f.direction === 'received' && f.op === GatewayOpcodes.Identify,
    );
    expect(identify?.d).toMatchObject({ token: '[redacted]', intents: GatewayIntentBits.Guilds });
    expect(emulator.calls[0]).toMatchObject({ route: 'GET /gateway/bot', status: 200 });
    expect(emulator.calls[0]?.headers.authorization).toBe('Bot [redacted]');
    const everything = JSON.stringify({ calls: emulator.calls, frames: emulator.gatewayFrames });
    expect(everything).not.toContain(emulator.botToken);
  });

  it('registers global and guild commands by bulk overwrite and keeps their ids', async () => {
    const { emulator, client } = await setup();
    const [first] = emulator.registeredCommands();
    expect(first).toMatchObject({ name: 'imagine', application_id: emulator.applicationId, type: 1 });

    const again = await client.application.commands.set([IMAGINE, { name: 'ping', description: 'Ping' }]);
    expect(again.find((c) => c.name === 'imagine')?.id).toBe(first?.id);
    expect(emulator.registeredCommands().map((c) => c.name)).toEqual(['imagine', 'ping']);

    const guildId = emulator.guilds[0]!.id;
    await client.application.commands.set([{ name: 'settings', description: 'Guild settings' }], guildId);
    expect(emulator.registeredCommands(guildId).map((c) => c.guild_id)).toEqual([guildId]);
    const fetched = await client.application.commands.fetch({ guildId });
    expect(fetched.map((c) => c.name)).toEqual(['settings']);
    expect(emulator.calls.filter((c) => c.route === 'PUT /applications/:app/commands')).toHaveLength(2);

    const invalid = await client.application.commands
      .set([{ name: 'Imagine', description: 'x' }])
      .catch((e: unknown) => e);
    const error = expectApiError(invalid, 400, 50035);
    expect(error.rawError).toMatchObject({
      errors: { 0: { name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME' }] } } },
    });
  });

  it('delivers a slash command; deferReply then editReply uploads the image with buttons', async () => {
    const { emulator, client } = await setup();
    const image = await png(128, 96);
    const seen = nextOutcome(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error(`unexpected ${interaction.type}`);
      await interaction.deferReply();
      await interaction.editReply({
        content: 'a lighthouse at dusk',
        files: [new AttachmentBuilder(image, { name: 'grid.png' })],
        components: [buttonRow('U1', 'U2', 'V1', 'V2'), buttonRow('reroll')],
      });
      return {
        prompt: interaction.options.getString('prompt'),
        steps: interaction.options.getInteger('steps'),
        channel: interaction.channelId,
        memberPermissions: interaction.memberPermissions?.has('SendMessages'),
      };
    });
    const general = emulator.channel('general');
    const interaction = await emulator.sendCommand({
      name: 'imagine',
      channelId: general.id,
      user: 'alice',
      options: { prompt: 'a lighthouse at dusk', steps: 20 },
    });

    expect(await seen).toEqual({
      prompt: 'a lighthouse at dusk',
      steps: 20,
      channel: general.id,
      memberPermissions: true,
    });
    const original = await interaction.waitForOriginal((m) => !m.loading);
    expect(interaction.response?.type).toBe(InteractionResponseType.DeferredChannelMessageWithSource);
    expect(interaction.response?.latencyMs).toBeLessThan(3000);
    expect(original.content).toBe('a lighthouse at dusk');
    expect(original.attachments).toHaveLength(1);
    expect(original.attachments[0]).toMatchObject({
      filename: 'grid.png',
      contentType: 'image/png',
      width: 128,
      height: 96,
    });
    expect(original.attachments[0]?.data.equals(image)).toBe(true);
    expect(original.components).toHaveLength(2);

    const callback = emulator.calls.find(
      (c) => c.route === 'POST /interactions/:interaction/:token/callback',
    );
    expect(callback).toMatchObject({ status: 204, query: { with_response: 'false' }, body: { type: 5 } });
    const edit = await emulator.waitForCall('PATCH /webhooks/:app/:token/messages/@original');
    expect(edit.headers['content-type']).toMatch(/^multipart\/form-data/);
    expect(edit.files).toHaveLength(1);
    expect(edit.files[0]).toMatchObject({ field: 'files[0]', name: 'grid.png', contentType: 'image/png' });
    expect(edit.files[0]?.data.equals(image)).toBe(true);
    expect(edit.body).toMatchObject({ content: 'a lighthouse at dusk', attachments: [{ id: '0' }] });

    const download = await fetch(original.attachments[0]!.url);
    expect(Buffer.from(await download.arrayBuffer()).equals(image)).toBe(true);
  });

  it('answers reply with_response, followUp (ephemeral) and channel.send with the bot token', async () => {
    const { emulator, client } = await setup();
    const done = nextOutcome(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error('expected a command');
      const response = await interaction.reply({
        content: 'queued',
        files: [new AttachmentBuilder(Buffer.from('preview'), { name: 'preview.txt' })],
        withResponse: true,
      });
      const followUp = await interaction.followUp({
        content: 'only you see this',
        flags: MessageFlags.Ephemeral,
      });
      const channel = interaction.channel as TextChannel;
      const posted = await channel.send({
        content: 'job finished',
        files: [new AttachmentBuilder(Buffer.from('x'), { name: 'log.txt' })],
      });
      return {
        responseMessageId: response.resource?.message?.id,
        followUpId: followUp.id,
        postedId: posted.id,
      };
    });
    const interaction = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'cat' } });
    const outcome = await done;
    if (outcome instanceof Error) throw outcome;

    expect(outcome.responseMessageId).toBe(interaction.originalMessage()?.id);
    expect(interaction.originalMessage()?.attachments.map((a) => a.data.toString())).toEqual(['preview']);
    const callback = emulator.calls.find(
      (c) => c.route === 'POST /interactions/:interaction/:token/callback',
    );
    expect(callback).toMatchObject({ status: 200, query: { with_response: 'true' }, body: { type: 4 } });
    expect(callback?.files.map((f) => f.name)).toEqual(['preview.txt']);
    const [followUp] = interaction.followUps();
    expect(followUp).toMatchObject({ id: outcome.followUpId, ephemeral: true, kind: 'follow-up' });
    const posted = emulator.message(outcome.postedId);
    expect(posted).toMatchObject({
      kind: 'channel',
      authorId: emulator.applicationId,
      content: 'job finished',
    });
    expect(posted?.attachments[0]?.filename).toBe('log.txt');
    const send = emulator.calls.find((c) => c.route === 'POST /channels/:channel/messages');
    expect(send?.headers.authorization).toBe('Bot [redacted]');
    expect(emulator.channelMessages(emulator.channel('general').id).map((m) => m.content)).toEqual([
      'queued',
      'only you see this',
      'job finished',
    ]);
  });

  it('a follow-up after deferReply fills the deferred reply instead of posting a new message', async () => {
    const { emulator, client } = await setup();
    const done = nextOutcome(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error('expected a command');
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      return (await interaction.followUp('here it is')).id;
    });
    const interaction = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'cat' } });
    const followUpId = await done;
    expect(followUpId).toBe(interaction.originalMessage()?.id);
    expect(interaction.originalMessage()).toMatchObject({
      content: 'here it is',
      ephemeral: true,
      loading: false,
    });
    expect(interaction.followUps()).toEqual([]);
  });

  it('button clicks arrive as ButtonInteraction; update() and deferUpdate() edit the clicked message', async () => {
    const { emulator, client } = await setup();
    onInteraction(client, async (interaction) => {
      if (interaction.isChatInputCommand()) {
        await interaction.reply({ content: 'pick one', components: [buttonRow('U1', 'reroll')] });
      } else if (interaction.isButton() && interaction.customId === 'U1') {
        await interaction.update({
          content: `upscaling (message ${interaction.message.id})`,
          components: [],
        });
      } else if (interaction.isButton()) {
        await interaction.deferUpdate();
        await interaction.editReply({ content: 're-rolled' });
      }
    });
    const command = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'cat' } });
    const message = await command.waitForOriginal();

    const reroll = await emulator.clickButton({ message, customId: 'reroll', user: 'bob' });
    await reroll.waitForOriginal((m) => m.content === 're-rolled');
    expect(reroll.response?.type).toBe(InteractionResponseType.DeferredMessageUpdate);
    expect(reroll.originalMessage()?.id).toBe(message.id);

    const upscale = await emulator.clickButton({ message, customId: 'U1' });
    await upscale.waitForResponse();
    expect(upscale.response?.type).toBe(InteractionResponseType.UpdateMessage);
    expect(emulator.message(message.id)).toMatchObject({
      content: `upscaling (message ${message.id})`,
      components: [],
    });
    expect(upscale.payload).toMatchObject({
      type: 3,
      data: { custom_id: 'U1', component_type: 2 },
      message: { id: message.id },
    });
    await expect(emulator.clickButton({ message, customId: 'U2' })).rejects.toThrow(
      /no component with custom_id "U2"/,
    );
  });

  it('select menus, modals and autocomplete reach their discord.js interaction classes', async () => {
    const { emulator, client } = await setup();
    await client.application.commands.set([
      IMAGINE,
      {
        name: 'model',
        description: 'Pick a model',
        options: [
          {
            type: ApplicationCommandOptionType.String,
            name: 'name',
            description: 'Model',
            autocomplete: true,
          },
        ],
      },
    ]);
    onInteraction(client, async (interaction) => {
      if (interaction.isAutocomplete()) {
        const typed = interaction.options.getFocused();
        await interaction.respond([{ name: `${typed}-v1.5`, value: `${typed}-v1.5` }]);
      } else if (interaction.isChatInputCommand()) {
        const menu = new StringSelectMenuBuilder()
          .setCustomId('scheduler')
          .addOptions({ label: 'PNDM', value: 'pndm' }, { label: 'Euler', value: 'euler' });
        await interaction.reply({
          content: 'settings',
          components: [new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(menu)],
        });
      } else if (interaction.isStringSelectMenu()) {
        const input = new TextInputBuilder().setCustomId('negative').setStyle(TextInputStyle.Short);
        await interaction.showModal(
          new ModalBuilder()
            .setCustomId(`negative:${interaction.values.join(',')}`)
            .setTitle('Negative prompt')
            .addLabelComponents(new LabelBuilder().setLabel('Negative prompt').setTextInputComponent(input)),
        );
      } else if (interaction.isModalSubmit()) {
        await interaction.reply(
          `${interaction.customId} -> ${interaction.fields.getTextInputValue('negative')}`,
        );
      }
    });

    const autocomplete = await emulator.sendAutocomplete({
      name: 'model',
      options: { name: 'sd' },
      focused: 'name',
    });
    await autocomplete.waitForResponse();
    expect(autocomplete.autocompleteChoices).toEqual([{ name: 'sd-v1.5', value: 'sd-v1.5' }]);

    const command = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } });
    const message = await command.waitForOriginal();
    const select = await emulator.chooseFromSelect({ message, customId: 'scheduler', values: ['euler'] });
    await select.waitForResponse();
    expect(select.modal).toMatchObject({ custom_id: 'negative:euler', title: 'Negative prompt' });
    const submit = await emulator.submitModal({ interaction: select, fields: { negative: 'blurry' } });
    expect((await submit.waitForOriginal()).content).toBe('negative:euler -> blurry');
  });

  it('after a bot restart, a new client handles clicks on buttons the previous one posted', async () => {
    const { emulator, client } = await setup();
    onInteraction(client, async (interaction) => {
      if (interaction.isChatInputCommand()) {
        await interaction.reply({ content: 'job 42', components: [buttonRow('upscale:42:1')] });
      }
    });
    const command = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } });
    const message = await command.waitForOriginal();
    await client.destroy();

    const restarted = await sessions.connect(emulator);
    const clicked = nextOutcome(restarted, async (interaction) => {
      if (!interaction.isButton()) throw new Error('expected a button');
      await interaction.reply({
        content: `upscaling ${interaction.customId}`,
        flags: MessageFlags.Ephemeral,
      });
      return { customId: interaction.customId, messageId: interaction.message.id };
    });
    const click = await emulator.clickButton({ message, customId: 'upscale:42:1' });
    expect(await clicked).toEqual({ customId: 'upscale:42:1', messageId: message.id });
    expect((await click.waitForOriginal()).ephemeral).toBe(true);
    expect(emulator.gatewayFrames.filter((f) => f.op === GatewayOpcodes.Identify)).toHaveLength(2);
  });

  it('user.send opens a DM channel and posts in it', async () => {
    const { emulator, client } = await setup();
    const bob = await client.users.fetch(emulator.user('bob').id);
    const sent = await bob.send('your image is ready');
    expect(sent.channelId).toBe(emulator.dmChannel('bob').id);
    expect(emulator.channelMessages(sent.channelId).map((m) => m.content)).toEqual(['your image is ready']);
  });

  it('a 429 with Retry-After makes discord.js wait and retry; the edit lands exactly once', async () => {
    const { emulator, client } = await setup();
    const fault = emulator.injectFault({
      route: 'PATCH /webhooks/:app/:token/messages/@original',
      status: 429,
      retryAfterSeconds: 0.2,
    });
    const done = nextOutcome(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error('expected a command');
      await interaction.deferReply();
      await interaction.editReply('step 10/30');
    });
    const interaction = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } });
    expect(await done).toBeUndefined();

    const edits = emulator.calls.filter((c) => c.route === 'PATCH /webhooks/:app/:token/messages/@original');
    expect(edits.map((c) => c.status)).toEqual([429, 200]);
    expect(edits[0]?.response).toEqual({
      message: 'You are being rate limited.',
      retry_after: 0.2,
      global: false,
    });
    expect(edits[1]!.at - edits[0]!.at).toBeGreaterThanOrEqual(200);
    expect(fault.hits).toBe(1);
    expect(interaction.originalMessage()).toMatchObject({ content: 'step 10/30', editCount: 1 });
  });

  it('a 500 is retried by discord.js and the message is posted once', async () => {
    const { emulator, client } = await setup();
    emulator.injectFault({ route: 'POST /channels/:channel/messages', status: 500, times: 2 });
    const channel = client.channels.cache.get(emulator.channel('general').id) as TextChannel;
    const sent = await channel.send('grid ready');
    const posts = emulator.calls.filter((c) => c.route === 'POST /channels/:channel/messages');
    expect(posts.map((c) => c.status)).toEqual([500, 500, 200]);
    expect(emulator.channelMessages(channel.id).map((m) => m.id)).toEqual([sent.id]);
  });

  it('an answer slower than the REST timeout is aborted and retried by discord.js', async () => {
    const emulator = await sessions.start();
    const slow = emulator.injectFault({ route: 'GET /users/@me', delayMs: 400 });
    const rest = new REST({ api: emulator.apiUrl, timeout: 150 }).setToken(emulator.botToken);
    await expect(rest.get(Routes.user('@me'))).resolves.toMatchObject({ id: emulator.applicationId });
    expect(slow.hits).toBe(1);
    const calls = await emulator.waitForCalls('GET /users/@me', 2);
    expect(calls.map((c) => c.fault).sort()).toEqual([false, true]);
  });

  it('an expired interaction token surfaces as DiscordAPIError 50027 and leaves the bot token usable', async () => {
    const { emulator, client } = await setup();
    const expiry = gate();
    const done = deferThenAnswer(client, expiry.opened, (interaction) => interaction.editReply('too late'));
    const interaction = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } });
    await interaction.waitForResponse();
    emulator.expireInteractionToken(interaction);
    expiry.open();
    const error = expectApiError(await done, 401, 50027);
    expect(error.message).toBe('Invalid Webhook Token');
    const channel = client.channels.cache.get(emulator.channel('general').id) as TextChannel;
    await expect(channel.send('posted with the bot token instead')).resolves.toBeDefined();
  });

  it("Discord's clock rules: 3 s to acknowledge (10062), tokens die after 15 minutes (50027)", async () => {
    const clock = new ManualClock();
    const { emulator, client } = await setup({ clock });
    const acknowledge = gate();
    const late = nextOutcome(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error('expected a command');
      await acknowledge.opened;
      return interaction.deferReply().catch((error: unknown) => error);
    });
    await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } });
    clock.advance(3001);
    acknowledge.open();
    expectApiError(await late, 404, 10062);

    const later = gate();
    const stale = deferThenAnswer(client, later.opened, (interaction) => interaction.followUp('done'));
    const interaction = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'y' } });
    await interaction.waitForResponse();
    clock.advance(15 * 60 * 1000);
    later.open();
    expectApiError(await stale, 401, 50027);
  });

  it.each([
    { label: 'close code 4000', closeFrame: true },
    { label: 'no close frame', closeFrame: false },
  ])(
    'after a gateway drop ($label) discord.js resumes and handles the missed interaction once',
    async ({ closeFrame }) => {
      const { emulator, client } = await setup();
      let handled = 0;
      onInteraction(client, async (interaction) => {
        handled += 1;
        if (interaction.isChatInputCommand()) await interaction.reply('pong');
      });
      await emulator.dropGateway({ closeFrame });
      const resumed = once(client, Events.ShardResume);
      const interaction = await emulator.sendCommand({
        name: 'imagine',
        options: { prompt: 'during the outage' },
      });
      await resumed;
      await interaction.waitForOriginal();

      expect(handled).toBe(1);
      const resume = emulator.gatewayFrames.find(
        (f) => f.direction === 'received' && f.op === GatewayOpcodes.Resume,
      );
      expect(resume?.d).toMatchObject({ token: '[redacted]', session_id: expect.any(String) as string });
      expect(emulator.gatewayConnections.map((c) => c.path)).toEqual(['/gateway', '/gateway/resume']);
      const sent = emulator.gatewayFrames.filter((f) => f.direction === 'sent' && f.connectionId === 2);
      expect(sent.map((f) => f.t).filter((t) => t !== null)).toEqual(['INTERACTION_CREATE', 'RESUMED']);
      expect(emulator.calls.filter((c) => c.route.startsWith('POST /interactions/'))).toHaveLength(1);
    },
  );

  it('op 7 RECONNECT makes discord.js resume on the resume URL', async () => {
    const { emulator, client } = await setup();
    const resumed = once(client, Events.ShardResume);
    emulator.requestReconnect();
    await resumed;
    expect(emulator.gatewayConnections.map((c) => [c.path, c.open])).toEqual([
      ['/gateway', false],
      ['/gateway/resume', true],
    ]);
  });

  describe('validation errors surface as DiscordAPIError', () => {
    const cases: {
      label: string;
      status: number;
      code: number;
      errors?: unknown;
      reply: (image: Buffer) => object;
    }[] = [
      {
        label: 'six buttons in a row',
        status: 400,
        code: 50035,
        errors: { components: { 0: { components: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH' }] } } } },
        reply: () => ({ components: [rawButtonRow(['a', 'b', 'c', 'd', 'e', 'f'])] }),
      },
      {
        label: 'six action rows',
        status: 400,
        code: 50035,
        errors: {
          components: {
            _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 5 or fewer in length.' }],
          },
        },
        reply: () => ({ components: ['1', '2', '3', '4', '5', '6'].map((id) => rawButtonRow([id])) }),
      },
      {
        label: 'a custom_id of 101 characters',
        status: 400,
        code: 50035,
        errors: {
          components: {
            0: {
              components: {
                0: {
                  custom_id: {
                    _errors: [
                      { code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' },
                    ],
                  },
                },
              },
            },
          },
        },
        reply: () => ({ components: [rawButtonRow(['x'.repeat(101)])] }),
      },
      {
        label: 'content over 2000 characters',
        status: 400,
        code: 50035,
        errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } },
        reply: () => ({ content: 'x'.repeat(2001) }),
      },
      {
        label: 'eleven attachments',
        status: 400,
        code: 50035,
        errors: { attachments: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } },
        reply: (image) => ({
          files: Array.from({ length: 11 }, (_, i) => new AttachmentBuilder(image, { name: `${i}.png` })),
        }),
      },
      {
        label: 'an attachment over the size limit (413, as Discord answers)',
        status: 413,
        code: 40005,
        reply: () => ({ files: [new AttachmentBuilder(Buffer.alloc(64 * 1024 + 1), { name: 'big.png' })] }),
      },
    ];

    it.each(cases)('$label', async ({ status, code, errors, reply }) => {
      const { emulator, client } = await setup({ attachmentSizeLimit: 64 * 1024 });
      const image = await png(8, 8);
      const done = nextOutcome(client, async (interaction) => {
        if (!interaction.isChatInputCommand()) throw new Error('expected a command');
        await interaction.deferReply();
        return interaction.editReply(reply(image)).catch((error: unknown) => error);
      });
      const interaction = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } });
      const error = expectApiError(await done, status, code);
      if (errors !== undefined) expect(error.rawError).toMatchObject({ errors });
      expect(interaction.originalMessage()?.loading).toBe(true);
    });
  });

  it('a channel the bot may not post in answers 403 Missing Permissions', async () => {
    const { emulator, client } = await setup({
      guilds: [
        {
          name: 'G',
          channels: [{ name: 'general' }, { name: 'announcements', botPermissions: ['ViewChannel'] }],
        },
      ],
    });
    const channel = client.channels.cache.get(emulator.channel('announcements').id) as TextChannel;
    expectApiError(await channel.send('hello').catch((e: unknown) => e), 403, 50013);
  });

  it('a command in a DM reaches the bot with a user and no member', async () => {
    const { emulator, client } = await setup();
    const done = nextOutcome(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error('expected a command');
      await interaction.reply('dm reply');
      return {
        inGuild: interaction.inGuild(),
        user: interaction.user.username,
        channelId: interaction.channelId,
      };
    });
    const interaction = await emulator.sendCommand({
      name: 'imagine',
      guildId: null,
      user: 'bob',
      options: { prompt: 'x' },
    });
    expect(await done).toEqual({ inGuild: false, user: 'bob', channelId: emulator.dmChannel('bob').id });
    expect(interaction.originalMessage()?.guildId).toBeNull();
  });

  it('a wrong token fails login; privileged intents are refused with close code 4014', async () => {
    const emulator = await sessions.start();
    const wrong = sessions.track(
      new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: emulator.apiUrl } }),
    );
    await expect(wrong.login('not-the-token')).rejects.toMatchObject({ code: 'TokenInvalid' });
    expect(emulator.calls.at(-1)).toMatchObject({
      route: 'GET /gateway/bot',
      status: 401,
      response: { code: 0 },
    });

    const greedy = sessions.track(
      new Client({
        intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers],
        rest: { api: emulator.apiUrl },
      }),
    );
    await expect(greedy.login(emulator.botToken)).rejects.toThrow(/disallowed intents/i);
  });
});
