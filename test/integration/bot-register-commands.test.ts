import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { commandDefinitions } from '../../bot/src/commands/definitions.js';
import { runSdbot } from '../helpers/cli.js';

const token = 'MTAwMDAwMDAwMDAwMDAwMDAx.Gx1234.very-secret-test-token';
const applicationId = '300000000000000001';
const guildId = '300000000000000002';

interface RecordedCall {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

/** Just enough of Discord's REST API to watch register-commands: it records and answers. */
class TinyDiscord {
  readonly calls: RecordedCall[] = [];
  /** Status to answer every call with instead of the normal answer. */
  failWith: { status: number; body: unknown } | undefined;
  private server: Server | undefined;

  get apiUrl(): string {
    const address = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}/api`;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server?.close(() => {
        resolve();
      }),
    );
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    const call: RecordedCall = {
      method: request.method ?? '',
      url: request.url ?? '',
      authorization: request.headers.authorization,
      body: text === '' ? undefined : JSON.parse(text),
    };
    this.calls.push(call);
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (this.failWith !== undefined) {
      answer(this.failWith.status, this.failWith.body);
    } else if (call.method === 'GET' && call.url === '/api/v10/applications/@me') {
      answer(200, { id: applicationId, name: 'sdbot', bot_public: false });
    } else if (
      call.method === 'PUT' &&
      /^\/api\/v10\/applications\/\d+(\/guilds\/\d+)?\/commands$/.test(call.url)
    ) {
      const commands = call.body as { name: string }[];
      answer(
        200,
        commands.map((command, index) => ({ ...command, id: `40000000000000000${index}`, version: '1' })),
      );
    } else {
      answer(404, { message: 'Unknown route', code: 0 });
    }
  }
}

describe('sdbot register-commands', () => {
  const discord = new TinyDiscord();

  beforeAll(async () => {
    await discord.start();
  });

  afterAll(async () => {
    await discord.stop();
  });

  beforeEach(() => {
    discord.calls.length = 0;
    discord.failWith = undefined;
  });

  const env = () => ({ DISCORD_TOKEN: token, DISCORD_API_URL: discord.apiUrl });

  it('reads the application id from the token and overwrites the guild commands', async () => {
    const run = await runSdbot(['register-commands', '--guild', guildId], env());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `Registered 7 commands (/imagine, /settings, /queue, /info, /preferences, "Show parameters", "Vary this image") for application ${applicationId} in guild ${guildId}.\n`,
    );
    expect(discord.calls.map((call) => `${call.method} ${call.url}`)).toEqual([
      'GET /api/v10/applications/@me',
      `PUT /api/v10/applications/${applicationId}/guilds/${guildId}/commands`,
    ]);
    for (const call of discord.calls) expect(call.authorization).toBe(`Bot ${token}`);
    expect(discord.calls[1]?.body).toEqual(JSON.parse(JSON.stringify(commandDefinitions())));
  });

  it('registers globally with DISCORD_APPLICATION_ID, without asking for it', async () => {
    const run = await runSdbot(['register-commands'], {
      ...env(),
      DISCORD_APPLICATION_ID: '300000000000000009',
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/globally/);
    expect(discord.calls.map((call) => `${call.method} ${call.url}`)).toEqual([
      'PUT /api/v10/applications/300000000000000009/commands',
    ]);
  });

  it('says DISCORD_TOKEN is missing', async () => {
    const run = await runSdbot(['register-commands'], { DISCORD_API_URL: discord.apiUrl });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^sdbot: error \[CONFIG_INVALID\]: DISCORD_TOKEN is not set/);
    expect(discord.calls).toEqual([]);
  });

  it('says the token was refused, never printing it', async () => {
    discord.failWith = { status: 401, body: { message: '401: Unauthorized', code: 0 } };
    const run = await runSdbot(['register-commands', '--guild', guildId], env());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\[CONFIG_INVALID\]: Discord refused DISCORD_TOKEN \(401 Unauthorized\)/);
    expect(run.stdout + run.stderr).not.toContain(token);
    expect(run.stdout + run.stderr).not.toContain('very-secret');
  });

  it('explains a guild the bot cannot reach', async () => {
    discord.failWith = { status: 403, body: { message: 'Missing Access', code: 50001 } };
    const run = await runSdbot(['register-commands', '--guild', guildId], {
      ...env(),
      DISCORD_APPLICATION_ID: applicationId,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `Discord refused access to guild ${guildId} (403): invite the bot there with the applications.commands scope`,
    );
  });

  it('refuses a malformed guild id before calling Discord', async () => {
    const run = await runSdbot(['register-commands', '--guild', 'my-server'], env());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--guild must be a Discord id (17-20 digits), got "my-server"');
    expect(discord.calls).toEqual([]);
  });
});
