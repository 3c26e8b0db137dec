/**
 * The Discord emulator at the wire level (plain HTTP and a raw WebSocket): what it answers, with
 * which status, error code and headers, and the gateway's opcodes and close codes.
 */
import {
  ApplicationCommandOptionType,
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  EmulatorUsageError,
  ManualClock,
  startDiscordEmulator,
  type DiscordEmulator,
  type DiscordEmulatorOptions,
  type EmulatorInteraction,
  type SendCommandInput,
} from '../discord-emulator/index.js';

const emulators: DiscordEmulator[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  const closing = emulators.splice(0);
  await Promise.all(closing.map((emulator) => emulator.close()));
  for (const emulator of closing) expect(emulator.errors).toEqual([]);
});

async function start(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
  const emulator = await startDiscordEmulator(options);
  emulators.push(emulator);
  return emulator;
}

interface ApiAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

interface ApiRequest {
  token?: string | null;
  json?: unknown;
  form?: FormData;
  raw?: string;
}

/** A plain HTTP call to the emulated API (bot token by default; `token: null` for none). */
async function api(
  emulator: DiscordEmulator,
  method: string,
  path: string,
  request: ApiRequest = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  const token = request.token === undefined ? emulator.botToken : request.token;
  if (token !== null) headers.authorization = `Bot ${token}`;
  let body: string | FormData | undefined;
  if (request.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(request.json);
  } else if (request.raw !== undefined) {
    headers['content-type'] = 'application/json';
    body = request.raw;
  } else {
    body = request.form;
  }
  const response = await fetch(`${emulator.apiUrl}/v10${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
}

interface GatewayPayload {
  op: GatewayOpcodes;
  d: unknown;
  s: number | null;
  t: string | null;
}

/** A raw gateway client that keeps every payload it receives. */
class RawGateway {
  readonly received: GatewayPayload[] = [];
  readonly closed: Promise<number>;
  #waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket) {
    sockets.push(socket);
    socket.on('message', (data: Buffer) => {
      this.received.push(JSON.parse(data.toString('utf8')) as GatewayPayload);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code) => {
        resolve(code);
      });
    });
  }

  static async open(url: string): Promise<RawGateway> {
    const gateway = new RawGateway(new WebSocket(url));
    await gateway.next((p) => p.op === GatewayOpcodes.Hello);
    return gateway;
  }

  /** Sends any opcode, known to Discord or not. */
  send(op: number, d: unknown): void {
    this.socket.send(JSON.stringify({ op, d }));
  }

  async next(predicate: (payload: GatewayPayload) => boolean, timeoutMs = 3000): Promise<GatewayPayload> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(predicate);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching gateway payload in ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  dispatches(t: string): GatewayPayload[] {
    return this.received.filter((p) => p.op === GatewayOpcodes.Dispatch && p.t === t);
  }
}

const url = (emulator: DiscordEmulator, path = '/gateway') =>
  `${emulator.gatewayUrl.replace('/gateway', path)}?v=10&encoding=json`;

async function identified(emulator: DiscordEmulator, shard: [number, number] = [0, 1]): Promise<RawGateway> {
  const gateway = await RawGateway.open(url(emulator));
  gateway.send(GatewayOpcodes.Identify, {
    token: emulator.botToken,
    intents: GatewayIntentBits.Guilds,
    properties: { os: 'linux', browser: 'test', device: 'test' },
    shard,
  });
  await gateway.next((p) => p.t === GatewayDispatchEvents.Ready);
  return gateway;
}

async function registerImagine(emulator: DiscordEmulator, extra: object[] = []): Promise<void> {
  const answer = await api(emulator, 'PUT', `/applications/${emulator.applicationId}/commands`, {
    json: [
      {
        name: 'imagine',
        description: 'Generate an image',
        options: [
          { type: ApplicationCommandOptionType.String, name: 'prompt', description: 'What', required: true },
          {
            type: ApplicationCommandOptionType.String,
            name: 'scheduler',
            description: 'Scheduler',
            choices: [
              { name: 'PNDM', value: 'pndm' },
              { name: 'Euler', value: 'euler' },
            ],
          },
          {
            type: ApplicationCommandOptionType.Integer,
            name: 'steps',
            description: 'Steps',
            min_value: 1,
            max_value: 150,
          },
          { type: ApplicationCommandOptionType.Attachment, name: 'init', description: 'Start image' },
          { type: ApplicationCommandOptionType.User, name: 'for', description: 'Dedicate to' },
        ],
      },
      ...extra,
    ],
  });
  expect(answer.status).toBe(200);
}

describe('emulated REST API', () => {
  it('bot routes need the bot token: 401 code 0 otherwise, with Authorization redacted in the record', async () => {
    const emulator = await start();
    expect(await api(emulator, 'GET', '/users/@me', { token: null })).toMatchObject({
      status: 401,
      body: { message: '401: Unauthorized', code: 0 },
    });
    expect((await api(emulator, 'GET', '/users/@me', { token: 'wrong' })).status).toBe(401);
    const me = await api(emulator, 'GET', '/users/@me');
    expect(me).toMatchObject({
      status: 200,
      body: { id: emulator.applicationId, username: 'sdbot', bot: true },
    });
    expect(emulator.calls.map((c) => c.headers.authorization)).toEqual([
      undefined,
      'Bot [redacted]',
      'Bot [redacted]',
    ]);
    const gatewayBot = await api(emulator, 'GET', '/gateway/bot');
    expect(gatewayBot.body).toMatchObject({
      url: emulator.gatewayUrl,
      shards: 1,
      session_start_limit: { max_concurrency: 1 },
    });
  });

  it('waitForCall and waitForCalls see past and future calls, and time out naming what was recorded', async () => {
    const emulator = await start();
    const twoCalls = emulator.waitForCalls('GET /users/@me', 2);
    await api(emulator, 'GET', '/users/@me');
    await api(emulator, 'GET', '/users/@me');
    expect((await twoCalls).map((c) => c.status)).toEqual([200, 200]);
    expect((await emulator.waitForCall('/users/@me')).path).toBe('/users/@me');
    await expect(emulator.waitForCall('PUT /applications/:app/commands', 50)).rejects.toThrow(
      'timed out after 50 ms waiting for a REST call PUT /applications/:app/commands (recorded: GET /users/@me 200, GET /users/@me 200)',
    );
  });

  it('unknown routes answer 404 and wrong methods 405, recorded as UNKNOWN', async () => {
    const emulator = await start();
    expect(await api(emulator, 'GET', '/nope')).toMatchObject({ status: 404, body: { code: 0 } });
    expect(await api(emulator, 'DELETE', '/gateway/bot')).toMatchObject({ status: 405, body: { code: 0 } });
    expect(emulator.calls.map((c) => c.route)).toEqual(['UNKNOWN', 'UNKNOWN']);
  });

  it('channel messages: multipart create with payload_json and files, edits keeping attachments, delete', async () => {
    const emulator = await start();
    const channel = emulator.channel('general');
    const form = new FormData();
    form.append(
      'payload_json',
      JSON.stringify({ content: 'two files', attachments: [{ id: 0, description: 'the grid' }, { id: 1 }] }),
    );
    form.append('files[0]', new Blob([Buffer.from('first')], { type: 'image/png' }), 'grid.png');
    form.append('files[1]', new Blob([Buffer.from('second')], { type: 'text/plain' }), 'seed.txt');
    const created = await api(emulator, 'POST', `/channels/${channel.id}/messages`, { form });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      channel_id: channel.id,
      author: { id: emulator.applicationId, bot: true },
      content: 'two files',
      type: 0,
      attachments: [
        { filename: 'grid.png', size: 5, content_type: 'image/png', description: 'the grid' },
        { filename: 'seed.txt', size: 6, content_type: 'text/plain' },
      ],
    });
    const messageId = (created.body as { id: string }).id;
    const message = emulator.message(messageId)!;
    expect(emulator.calls.at(-1)?.files.map((f) => f.data.toString())).toEqual(['first', 'second']);
    const [grid, seed] = message.attachments;
    expect(await fetch(seed!.url).then((r) => r.text())).toBe('second');

    const keepGridAddOne = new FormData();
    keepGridAddOne.append('payload_json', JSON.stringify({ attachments: [{ id: grid!.id }, { id: '0' }] }));
    keepGridAddOne.append('files[0]', new Blob([Buffer.from('third')]), 'upscaled.png');
    await api(emulator, 'PATCH', `/channels/${channel.id}/messages/${messageId}`, { form: keepGridAddOne });
    expect(message.attachments.map((a) => a.filename)).toEqual(['grid.png', 'upscaled.png']);
    expect(message).toMatchObject({ content: 'two files', editCount: 1 });
    const fetched = await api(emulator, 'GET', `/channels/${channel.id}/messages/${messageId}`);
    expect(fetched.body).toMatchObject({ edited_timestamp: expect.any(String) as string });

    await api(emulator, 'PATCH', `/channels/${channel.id}/messages/${messageId}`, {
      json: { attachments: [] },
    });
    expect(message.attachments).toEqual([]);
    expect((await api(emulator, 'DELETE', `/channels/${channel.id}/messages/${messageId}`)).status).toBe(204);
    expect(await api(emulator, 'GET', `/channels/${channel.id}/messages/${messageId}`)).toMatchObject({
      status: 404,
      body: { code: 10008, message: 'Unknown Message' },
    });
    expect(emulator.channelMessages(channel.id)).toEqual([]);
  });

  it('refuses empty messages (50006), bad JSON (50109), unknown channels (10003) and oversized bodies (413)', async () => {
    const emulator = await start({ maxRequestBytes: 1024 });
    const path = `/channels/${emulator.channel('general').id}/messages`;
    expect(await api(emulator, 'POST', path, { json: { content: '' } })).toMatchObject({
      status: 400,
      body: { code: 50006 },
    });
    expect(await api(emulator, 'POST', path, { raw: '{"content":' })).toMatchObject({
      status: 400,
      body: { code: 50109 },
    });
    expect(
      await api(emulator, 'POST', '/channels/123456789012345678/messages', { json: { content: 'x' } }),
    ).toMatchObject({
      status: 404,
      body: { code: 10003 },
    });
    expect(await api(emulator, 'POST', path, { json: { content: 'x'.repeat(2000) } })).toMatchObject({
      status: 413,
      body: { code: 40005, message: 'Request entity too large' },
    });
  });

  it('injected faults: 429 with Discord headers and body, global 429, 401 per route type, counted hits', async () => {
    const emulator = await start();
    const limited = emulator.injectFault({ route: '/users/@me', status: 429, retryAfterSeconds: 1.5 });
    const answer = await api(emulator, 'GET', '/users/@me');
    expect(answer).toMatchObject({
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: 1.5, global: false },
    });
    expect(
      Object.fromEntries([...answer.headers].filter(([name]) => /^(retry-after|x-ratelimit)/.test(name))),
    ).toMatchObject({
      'retry-after': '1.5',
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset-after': '1.500',
      'x-ratelimit-scope': 'user',
      'x-ratelimit-bucket': expect.stringMatching(/^[0-9a-f]{32}$/) as string,
    });
    expect(limited).toMatchObject({ hits: 1, remaining: 0 });
    expect((await api(emulator, 'GET', '/users/@me')).status).toBe(200);

    emulator.injectFault({ status: 429, global: true, retryAfterSeconds: 0.5 });
    const global = await api(emulator, 'GET', '/gateway/bot');
    expect(global.headers.get('x-ratelimit-global')).toBe('true');
    expect(global.headers.get('x-ratelimit-scope')).toBe('global');
    expect(global.headers.get('x-ratelimit-bucket')).toBeNull();
    expect(global.body).toMatchObject({ global: true });

    emulator.injectFault({ route: /^POST \/webhooks\//, status: 401, times: Infinity });
    const webhook = await api(emulator, 'POST', `/webhooks/${emulator.applicationId}/some-token`, {
      token: null,
      json: { content: 'x' },
    });
    expect(webhook).toMatchObject({ status: 401, body: { code: 50027, message: 'Invalid Webhook Token' } });
    const server = emulator.injectFault({
      route: (call) => call.route === 'GET /users/@me',
      status: 503,
      times: 2,
    });
    expect((await api(emulator, 'GET', '/users/@me')).status).toBe(503);
    server.cancel();
    expect((await api(emulator, 'GET', '/users/@me')).status).toBe(200);
    expect(emulator.calls.filter((c) => c.fault)).toHaveLength(4);
    expect(() => emulator.injectFault({ status: 200 })).toThrow(RangeError);
    expect(() => emulator.injectFault({ route: '/users/@me' })).toThrow('give a status, a delayMs, or both');
  });

  it('command registration enforces Discord limits with 50035 errors naming the field', async () => {
    const emulator = await start();
    const path = `/applications/${emulator.applicationId}/commands`;
    const option = (name: string, required = false) => ({ type: 3, name, description: name, required });
    const invalid = await api(emulator, 'PUT', path, {
      json: [
        { name: 'many', description: 'x', options: Array.from({ length: 26 }, (_, i) => option(`o${i}`)) },
        {
          name: 'choices',
          description: 'x',
          options: [
            {
              type: 3,
              name: 'c',
              description: 'c',
              choices: Array.from({ length: 26 }, (_, i) => ({ name: `${i}`, value: `${i}` })),
            },
          ],
        },
        { name: 'order', description: 'x', options: [option('a'), option('b', true)] },
        { name: 'long', description: 'x', options: [{ ...option('p'), max_length: 6001 }] },
        { name: 'order', description: 'duplicate name' },
      ],
    });
    expect(invalid).toMatchObject({
      status: 400,
      body: {
        code: 50035,
        errors: {
          0: { options: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } },
          1: { options: { 0: { choices: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } } },
          2: {
            options: {
              1: { required: { _errors: [{ code: 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID' }] } },
            },
          },
          3: { options: { 0: { max_length: { _errors: [{ code: 'NUMBER_TYPE_MAX' }] } } } },
          4: { name: { _errors: [{ code: 'APPLICATION_COMMANDS_DUPLICATE_NAME' }] } },
        },
      },
    });
    expect(emulator.registeredCommands()).toEqual([]);

    const created = await api(emulator, 'POST', path, { json: { name: 'ping', description: 'Ping' } });
    expect(created.status).toBe(201);
    const updated = await api(emulator, 'POST', path, { json: { name: 'ping', description: 'Ping again' } });
    expect(updated).toMatchObject({
      status: 200,
      body: { id: (created.body as { id: string }).id, description: 'Ping again' },
    });
    expect((await api(emulator, 'DELETE', `${path}/${(created.body as { id: string }).id}`)).status).toBe(
      204,
    );
    expect(await api(emulator, 'GET', `${path}/${(created.body as { id: string }).id}`)).toMatchObject({
      status: 404,
      body: { code: 10063 },
    });
    expect(
      await api(
        emulator,
        'PUT',
        `/applications/${emulator.applicationId}/guilds/123456789012345678/commands`,
        { json: [] },
      ),
    ).toMatchObject({
      status: 403,
      body: { code: 50001 },
    });
  });
});

/** An emulator with /imagine registered and a bot connected, and one /imagine a user sent. */
async function imagineSent(): Promise<{ emulator: DiscordEmulator; interaction: EmulatorInteraction }> {
  const emulator = await start();
  await registerImagine(emulator);
  await identified(emulator);
  return { emulator, interaction: await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } }) };
}

const callbackPath = (interaction: EmulatorInteraction) =>
  `/interactions/${interaction.id}/${interaction.token}/callback`;

describe('emulated interactions', () => {
  it('callbacks: 204 without content type, 40060 when answered twice, 10062 when unknown', async () => {
    const { emulator, interaction } = await imagineSent();
    const path = callbackPath(interaction);

    const deferred = await api(emulator, 'POST', `${path}?with_response=false`, {
      token: null,
      json: { type: 5, data: { flags: 64 } },
    });
    expect(deferred.status).toBe(204);
    expect(deferred.headers.get('content-type')).toBeNull();
    expect(deferred.body).toBeUndefined();
    expect(interaction.originalMessage()).toMatchObject({ loading: true, ephemeral: true });
    expect(
      await api(emulator, 'POST', path, { token: null, json: { type: 4, data: { content: 'x' } } }),
    ).toMatchObject({
      status: 400,
      body: { code: 40060, message: 'Interaction has already been acknowledged.' },
    });
    expect(interaction.rejectedCallbacks).toBe(1);
    expect(
      await api(emulator, 'POST', `/interactions/123456789012345678/${interaction.token}/callback`, {
        token: null,
        json: { type: 5 },
      }),
    ).toMatchObject({
      status: 404,
      body: { code: 10062, message: 'Unknown interaction' },
    });
  });

  it('with_response=true answers the callback response with the message; wrong callback types are refused', async () => {
    const { emulator, interaction } = await imagineSent();
    const path = callbackPath(interaction);
    expect(
      await api(emulator, 'POST', path, {
        token: null,
        json: { type: InteractionResponseType.UpdateMessage, data: {} },
      }),
    ).toMatchObject({
      status: 400,
      body: { code: 50035 },
    });
    const answer = await api(emulator, 'POST', `${path}?with_response=true`, {
      token: null,
      json: { type: 4, data: { content: 'hello', flags: MessageFlags.SuppressEmbeds } },
    });
    expect(answer).toMatchObject({
      status: 200,
      body: {
        interaction: {
          id: interaction.id,
          type: InteractionType.ApplicationCommand,
          response_message_loading: false,
          response_message_ephemeral: false,
        },
        resource: {
          type: 4,
          message: {
            content: 'hello',
            type: 20,
            flags: MessageFlags.SuppressEmbeds,
            webhook_id: emulator.applicationId,
            interaction_metadata: { id: interaction.id, type: InteractionType.ApplicationCommand },
          },
        },
      },
    });
  });

  it('webhook routes: 10015 before the callback or for another application, 50027 for unknown tokens', async () => {
    const { emulator, interaction } = await imagineSent();
    const original = `/webhooks/${emulator.applicationId}/${interaction.token}/messages/@original`;
    expect(await api(emulator, 'PATCH', original, { token: null, json: { content: 'x' } })).toMatchObject({
      status: 404,
      body: { code: 10015 },
    });
    await api(emulator, 'POST', callbackPath(interaction), {
      token: null,
      json: { type: 5 },
    });
    expect((await api(emulator, 'PATCH', original, { token: null, json: { content: 'done' } })).status).toBe(
      200,
    );
    expect(
      await api(emulator, 'GET', `/webhooks/123456789012345678/${interaction.token}/messages/@original`, {
        token: null,
      }),
    ).toMatchObject({
      status: 404,
      body: { code: 10015 },
    });
    expect(
      await api(emulator, 'GET', `/webhooks/${emulator.applicationId}/not-a-token/messages/@original`, {
        token: null,
      }),
    ).toMatchObject({
      status: 401,
      body: { code: 50027 },
    });
    const followUp = await api(
      emulator,
      'POST',
      `/webhooks/${emulator.applicationId}/${interaction.token}?wait=true`,
      {
        token: null,
        json: { content: 'more' },
      },
    );
    const followUpId = (followUp.body as { id: string }).id;
    expect(followUp.body).toMatchObject({
      type: 19,
      message_reference: { message_id: interaction.originalMessage()?.id },
    });
    expect(
      (
        await api(
          emulator,
          'DELETE',
          `/webhooks/${emulator.applicationId}/${interaction.token}/messages/${followUpId}`,
          { token: null },
        )
      ).status,
    ).toBe(204);
    expect(interaction.followUps()).toEqual([]);
  });

  it('the injectable clock decides the 3 s acknowledgement window and the 15 min token lifetime', async () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const emulator = await start({ clock });
    await registerImagine(emulator);
    await identified(emulator);
    const late = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } });
    clock.advance(3001);
    expect(
      await api(emulator, 'POST', `/interactions/${late.id}/${late.token}/callback`, {
        token: null,
        json: { type: 5 },
      }),
    ).toMatchObject({
      status: 404,
      body: { code: 10062 },
    });

    const timely = await emulator.sendCommand({ name: 'imagine', options: { prompt: 'y' } });
    clock.advance(2999);
    await api(emulator, 'POST', `/interactions/${timely.id}/${timely.token}/callback`, {
      token: null,
      json: { type: 5 },
    });
    expect(timely.response?.latencyMs).toBe(2999);
    const original = `/webhooks/${emulator.applicationId}/${timely.token}/messages/@original`;
    clock.advance(15 * 60 * 1000 - 3000);
    expect(
      (await api(emulator, 'PATCH', original, { token: null, json: { content: 'in time' } })).status,
    ).toBe(200);
    clock.advance(1);
    expect(
      await api(emulator, 'PATCH', original, { token: null, json: { content: 'too late' } }),
    ).toMatchObject({
      status: 401,
      body: { code: 50027 },
    });
    expect(emulator.calls.at(-1)?.at).toBe(clock.now());
  });

  it('INTERACTION_CREATE carries what discord.js and bots read, with options typed by the registered command', async () => {
    const emulator = await start({
      guilds: [
        {
          name: 'G',
          roles: [{ name: 'Artists' }],
          members: [{ user: 'alice', roles: ['Artists'] }, { user: 'bob' }],
        },
      ],
    });
    await registerImagine(emulator);
    const gateway = await identified(emulator);
    const image = Buffer.from('png bytes');
    const interaction = await emulator.sendCommand({
      name: 'imagine',
      user: 'alice',
      options: {
        prompt: 'a fox',
        scheduler: 'euler',
        steps: 25,
        init: { filename: 'fox.png', data: image, contentType: 'image/png' },
        for: 'bob',
      },
    });
    const dispatch = await gateway.next((p) => p.t === 'INTERACTION_CREATE');
    expect(dispatch.d).toEqual(interaction.payload);
    const guild = emulator.guilds[0]!;
    const alice = emulator.user('alice');
    const bob = emulator.user('bob');
    expect(interaction.payload).toMatchObject({
      id: interaction.id,
      application_id: emulator.applicationId,
      type: InteractionType.ApplicationCommand,
      token: interaction.token,
      version: 1,
      guild_id: guild.id,
      channel_id: guild.channels[0]!.id,
      channel: { id: guild.channels[0]!.id, name: 'general', nsfw: false },
      member: {
        user: { id: alice.id, username: 'alice' },
        roles: [guild.roles.find((r) => r.name === 'Artists')!.id],
        permissions: expect.any(String) as string,
      },
      app_permissions: expect.any(String) as string,
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { 0: guild.id },
      context: 0,
      attachment_size_limit: 10 * 1024 * 1024,
      data: {
        id: emulator.registeredCommands()[0]!.id,
        name: 'imagine',
        type: 1,
        options: [
          { name: 'prompt', type: 3, value: 'a fox' },
          { name: 'scheduler', type: 3, value: 'euler' },
          { name: 'steps', type: 4, value: 25 },
          { name: 'init', type: 11, value: expect.any(String) as string },
          { name: 'for', type: 6, value: bob.id },
        ],
        resolved: { users: { [bob.id]: { username: 'bob' } }, members: { [bob.id]: { roles: [] } } },
      },
    });
    const attachmentUrl = Object.values(
      (interaction.payload.data as { resolved: { attachments: Record<string, { url: string }> } }).resolved
        .attachments,
    )[0]!.url;
    expect(Buffer.from(await (await fetch(attachmentUrl)).arrayBuffer()).equals(image)).toBe(true);
  });

  it('sendCommand refuses what a Discord client would not let a user send', async () => {
    const emulator = await start();
    await identified(emulator);
    await expect(emulator.sendCommand({ name: 'imagine' })).rejects.toThrow(/\/imagine is not registered/);
    await registerImagine(emulator, [
      { name: 'admin', description: 'Admin', default_member_permissions: '32' },
      {
        name: 'sd',
        description: 'Settings',
        options: [
          {
            type: 1,
            name: 'show',
            description: 'Show',
            options: [{ type: 5, name: 'all', description: 'All' }],
          },
        ],
      },
    ]);
    const refusals: [SendCommandInput, RegExp][] = [
      [{ name: 'imagine', options: { promt: 'x' } }, /no option "promt"/],
      [{ name: 'imagine', options: {} }, /option "prompt" is required/],
      [{ name: 'imagine', options: { prompt: 3 } }, /expected a string/],
      [{ name: 'imagine', options: { prompt: 'x', scheduler: 'ddim' } }, /not one of the choices/],
      [{ name: 'imagine', options: { prompt: 'x', steps: 151 } }, /outside 1\.\.150/],
      [{ name: 'admin' }, /lacks the permissions/],
      [{ name: 'sd' }, /needs a subcommand/],
      [{ name: 'imagine', options: { prompt: 'x' }, user: 'nobody' }, /unknown user "nobody"/],
    ];
    for (const [input, message] of refusals) {
      await expect(emulator.sendCommand(input)).rejects.toThrow(message);
    }
    await expect(
      emulator.sendCommand({ name: 'admin', memberPermissions: ['ManageGuild'] }),
    ).resolves.toBeDefined();
    await expect(
      emulator.sendCommand({ name: 'admin', user: `${emulator.guilds[0]!.name} owner` }),
    ).resolves.toBeDefined();
    const settings = await emulator.sendCommand({ name: 'sd', subcommand: 'show', options: { all: true } });
    expect(settings.payload.data).toMatchObject({
      options: [{ type: 1, name: 'show', options: [{ type: 5, name: 'all', value: true }] }],
    });
    await expect(emulator.sendCommand({ name: 'sd', subcommand: 'show' })).resolves.toBeDefined();
    await expect(emulator.sendCommand({ name: 'sd', subcommand: 'hide' })).rejects.toBeInstanceOf(
      EmulatorUsageError,
    );
  });
});

describe('emulated gateway', () => {
  it('HELLO, heartbeat ACK, READY with unavailable guilds then GUILD_CREATE, sequence numbers', async () => {
    const emulator = await start({ heartbeatIntervalMs: 250 });
    const gateway = await RawGateway.open(url(emulator));
    expect(gateway.received[0]).toEqual({
      op: 10,
      d: { heartbeat_interval: 250, _trace: expect.any(Array) as unknown[] },
      s: null,
      t: null,
    });
    gateway.send(GatewayOpcodes.Heartbeat, null);
    await gateway.next((p) => p.op === GatewayOpcodes.HeartbeatAck);
    gateway.send(GatewayOpcodes.Identify, { token: emulator.botToken, intents: 1, properties: {} });
    const guildCreate = await gateway.next((p) => p.t === 'GUILD_CREATE');
    const ready = gateway.dispatches('READY')[0]!;
    expect(ready).toMatchObject({
      s: 1,
      d: {
        v: 10,
        user: { id: emulator.applicationId, bot: true },
        guilds: [{ id: emulator.guilds[0]!.id, unavailable: true }],
        session_id: expect.any(String) as string,
        resume_gateway_url: emulator.gatewayUrl.replace('/gateway', '/gateway/resume'),
        application: { id: emulator.applicationId },
      },
    });
    expect(guildCreate).toMatchObject({
      s: 2,
      d: {
        id: emulator.guilds[0]!.id,
        unavailable: false,
        member_count: 4,
        roles: [
          { id: emulator.guilds[0]!.id, name: '@everyone' },
          { name: 'sdbot', managed: true, tags: { bot_id: emulator.applicationId } },
        ],
        channels: [{ name: 'general' }, { name: 'nsfw', nsfw: true }],
        members: [{ user: { id: emulator.applicationId } }],
      },
    });
  });

  it.each([
    { label: 'a payload before IDENTIFY', code: 4003, frame: { op: GatewayOpcodes.PresenceUpdate, d: {} } },
    {
      label: 'a wrong token',
      code: 4004,
      frame: { op: GatewayOpcodes.Identify, d: { token: 'x', intents: 1 } },
    },
    { label: 'an unknown opcode', code: 4001, frame: { op: 42, d: {} } },
    { label: 'undecodable JSON', code: 4002, frame: '{' },
  ])('closes with $code for $label', async ({ code, frame }) => {
    const emulator = await start();
    const gateway = await RawGateway.open(url(emulator));
    gateway.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    expect(await gateway.closed).toBe(code);
  });

  it('closes 4014 for privileged intents unless enabled, 4012 for another API version, 4005 on a second IDENTIFY', async () => {
    const emulator = await start();
    const members = await RawGateway.open(url(emulator));
    members.send(GatewayOpcodes.Identify, {
      token: emulator.botToken,
      intents: GatewayIntentBits.GuildMembers,
    });
    expect(await members.closed).toBe(4014);
    const v9 = new RawGateway(new WebSocket(`${emulator.gatewayUrl}?v=9&encoding=json`));
    expect(await v9.closed).toBe(4012);
    const twice = await identified(emulator);
    twice.send(GatewayOpcodes.Identify, { token: emulator.botToken, intents: 1 });
    expect(await twice.closed).toBe(4005);

    const permissive = await start({ privilegedIntents: GatewayIntentBits.GuildMembers });
    const allowed = await RawGateway.open(url(permissive));
    allowed.send(GatewayOpcodes.Identify, {
      token: permissive.botToken,
      intents: GatewayIntentBits.GuildMembers | 1,
    });
    await allowed.next((p) => p.t === 'READY');
  });

  it('RESUME replays what a dropped session missed, in order, then RESUMED; unknown sessions get op 9', async () => {
    const emulator = await start();
    await registerImagine(emulator);
    const first = await identified(emulator);
    const ready = first.dispatches('READY')[0]!.d as { session_id: string };
    const lastSeen = Math.max(...first.received.map((p) => p.s ?? 0));
    await emulator.dropGateway();
    expect(await first.closed).toBe(4000);
    const missed = [
      await emulator.sendCommand({ name: 'imagine', options: { prompt: 'one' } }),
      await emulator.sendCommand({ name: 'imagine', options: { prompt: 'two' } }),
    ];

    const resumed = await RawGateway.open(url(emulator, '/gateway/resume'));
    resumed.send(GatewayOpcodes.Resume, {
      token: emulator.botToken,
      session_id: ready.session_id,
      seq: lastSeen,
    });
    await resumed.next((p) => p.t === 'RESUMED');
    const replayed = resumed.received.filter((p) => p.op === GatewayOpcodes.Dispatch);
    expect(replayed.map((p) => [p.t, p.s])).toEqual([
      ['INTERACTION_CREATE', lastSeen + 1],
      ['INTERACTION_CREATE', lastSeen + 2],
      ['RESUMED', lastSeen + 3],
    ]);
    expect(replayed.slice(0, 2).map((p) => (p.d as { id: string }).id)).toEqual(missed.map((i) => i.id));

    const stranger = await RawGateway.open(url(emulator, '/gateway/resume'));
    stranger.send(GatewayOpcodes.Resume, { token: emulator.botToken, session_id: 'nope', seq: 1 });
    expect(await stranger.next((p) => p.op === GatewayOpcodes.InvalidSession)).toMatchObject({ d: false });
  });

  it('a non-resumable drop, or a client closing with 1000, ends the session', async () => {
    const emulator = await start();
    await registerImagine(emulator);
    const gateway = await identified(emulator);
    const sessionId = (gateway.dispatches('READY')[0]!.d as { session_id: string }).session_id;
    await emulator.dropGateway({ resumable: false });
    const retry = await RawGateway.open(url(emulator, '/gateway/resume'));
    retry.send(GatewayOpcodes.Resume, { token: emulator.botToken, session_id: sessionId, seq: 2 });
    expect(await retry.next((p) => p.op === GatewayOpcodes.InvalidSession)).toMatchObject({ d: false });
    retry.socket.close(1000);
    await retry.closed;

    const polite = await identified(emulator);
    polite.socket.close(1000);
    await polite.closed;
    await emulator.waitUntil(() => (emulator.gatewayConnections.every((c) => !c.open) ? true : undefined));
    await expect(emulator.sendCommand({ name: 'imagine', options: { prompt: 'x' } })).rejects.toThrow(
      /no bot session/,
    );
  });

  it('close() ends gateway connections and stops listening', async () => {
    const emulator = await startDiscordEmulator();
    const gateway = await identified(emulator);
    const pending = expect(emulator.waitForCall('GET /users/@me', 60_000)).rejects.toThrow(
      'the Discord emulator was closed',
    );
    await emulator.close();
    expect(await gateway.closed).toBe(1006);
    await pending;
    await expect(fetch(`${emulator.apiUrl}/v10/gateway`)).rejects.toThrow();
  });

  it('routes guild dispatches to the shard that owns the guild', async () => {
    // A guild's shard is (id >> 22) % shard count: these land on shards 0, 1 and 0.
    const ids = [1_000_000_000n, 1_000_000_001n, 1_000_000_002n].map((ms) => String(ms << 22n));
    const emulator = await start({ guilds: ids.map((id, index) => ({ id, name: `guild ${index}` })) });
    await registerImagine(emulator);
    const shards = [await identified(emulator, [0, 2]), await identified(emulator, [1, 2])];
    for (const [guild, owner] of emulator.guilds.map((g, index) => [g, index % 2] as const)) {
      await emulator.sendCommand({ name: 'imagine', guildId: guild.id, options: { prompt: guild.name } });
      await shards[owner]!.next(
        (p) => p.t === 'INTERACTION_CREATE' && (p.d as { guild_id: string }).guild_id === guild.id,
      );
      const delivered = shards.map((shard) =>
        shard
          .dispatches('INTERACTION_CREATE')
          .some((p) => (p.d as { guild_id: string }).guild_id === guild.id),
      );
      expect(delivered).toEqual([owner === 0, owner === 1]);
      const guildCreates = shards[owner]!.dispatches('GUILD_CREATE').map((p) => (p.d as { id: string }).id);
      expect(guildCreates).toContain(guild.id);
    }
  });
});
