/**
 * `sdbot bot` as an operator runs it (configuration, metrics endpoint, clean stop), and what the
 * bot writes to its logs: structured lines bound to the guild and job, never a token.
 */
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { useBotWorld, resultOf } from '../helpers/bot-world.js';
import { runSdbot } from '../helpers/cli.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { freePort } from '../helpers/ports.js';

const hasNats = natsServerAvailable();

describe('sdbot bot', () => {
  it('refuses to start without DISCORD_TOKEN, saying where to get one', async () => {
    const run = await runSdbot(['bot', '--nats', 'nats://127.0.0.1:1'], { LOG_LEVEL: 'silent' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/DISCORD_TOKEN is not set: create a bot in the Discord Developer Portal/);
  });
});

describe.skipIf(!hasNats)(`the bot process${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useBotWorld({ bots: 0 });

  it('runs until stopped, serving /metrics and /readyz on SDBOT_METRICS_PORT', async () => {
    const port = await freePort();
    const stop = new AbortController();
    const running = runSdbot(
      ['bot', '--nats', world.nats.url, '--metrics-port', String(port)],
      {
        LOG_LEVEL: 'silent',
        DISCORD_TOKEN: world.emulator.botToken,
        DISCORD_API_URL: world.emulator.apiUrl,
        SDBOT_MAX_PIXELS: '4096',
      },
      stop.signal,
    );
    try {
      const ready = async () =>
        (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status;
      await world.emulator.waitUntil(
        () => (world.emulator.gatewayConnections.length > 0 ? true : undefined),
        15_000,
      );
      for (let attempt = 0; attempt < 100 && (await ready()) !== 200; attempt += 1) await sleep(100);
      expect(await ready()).toBe(200);
      await resultOf(await world.imagine({ prompt: 'through the process --steps 2 --count 1' }));
      const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const delivered = 'sdbot_bot_deliveries_total{route="interaction",type="result"} 1';
      for (let attempt = 0; attempt < 50 && !(await metrics()).includes(delivered); attempt += 1)
        await sleep(100);
      const text = await metrics();
      expect(text).toContain(delivered);
      expect(text).toMatch(/sdbot_bot_interactions_total\{name="imagine",outcome="ok"\} 1/);
      expect(text).toContain('sdbot_jobs_submitted_total{model="sim"} 1');
      expect(text).toContain('process_cpu_user_seconds_total');
    } finally {
      stop.abort();
    }
    expect((await running).code).toBe(0);
  });

  it('logs structured lines bound to the guild and job, and never a bot or interaction token', async () => {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const logger = createLogger({ name: 'bot', level: 'debug', destination });
    await world.startBot({ logger });
    // A failing Discord call is logged with its URL, which carries the interaction token.
    world.emulator.injectFault({
      route: 'PATCH /webhooks/:app/:token/messages/@original',
      status: 500,
      times: 4,
    });
    const interaction = await world.imagine({ prompt: 'logged --steps 2 --count 1' });
    await resultOf(interaction, 20_000);
    const failing = await world.imagine({ prompt: 'a bad one --steps 0' });
    await failing.waitForResponse();
    for (const bot of [...world.bots]) await world.stopBot(bot);

    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const delivered = records.find((record) => record.msg === 'job:delivered');
    expect(delivered).toMatchObject({
      level: 'info',
      name: 'bot',
      guildId: world.emulator.guilds[0]?.id,
      jobId: `discord-${interaction.id}`,
      route: 'interaction',
    });
    expect(records.some((record) => record.msg === 'progress:edit-failed' && record.level === 'warn')).toBe(
      true,
    );
    const everything = lines.join('\n');
    expect(everything).not.toContain(world.emulator.botToken);
    for (const sent of world.emulator.interactions) expect(everything).not.toContain(sent.token);
  });
});
