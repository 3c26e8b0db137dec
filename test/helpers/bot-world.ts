/**
 * Everything an end-to-end bot test needs: a real nats-server, the Discord emulator with the slash
 * commands registered, workers, and bot instances started in this process (so a test can stop one
 * and start another). `cleanup()` stops all of it; `useBotWorld` does both around a file's tests:
 *
 *   const world = useBotWorld({ workers: [{ models: ['sim'], msPerStep: 5 }] });
 *   it('draws', async () => expect(await resultOf(await world.imagine({ prompt: 'x' }))).toBeDefined());
 */
import { afterAll, beforeAll, expect } from 'vitest';
import {
  contextMenuDefinitions,
  registerCommands,
  slashCommandDefinitions,
  startBot,
  type BotDeps,
  type BotHandle,
} from '@sdbot/bot';
import { Routes, REST, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import sharp from 'sharp';
import { loadConfig, type Config } from '@sdbot/shared';
import {
  startDiscordEmulator,
  type DiscordEmulator,
  type DiscordEmulatorOptions,
  type EmulatorInteraction,
  type EmulatorMessage,
  type SendCommandInput,
} from '../discord-emulator/index.js';
import { startNatsServer, type NatsServerOptions, type NatsTestServer } from './nats-server.js';
import { openTestClient, startTestWorker } from './workers.js';
import type { TestClient, TestWorker, TestWorkerOptions } from './workers.js';

/** Small, fast defaults: 64x64 images, few steps, previews every 2 steps, generous rate limits. */
export const FAST_BOT_ENV: NodeJS.ProcessEnv = {
  LOG_LEVEL: process.env.SDBOT_TEST_LOG_LEVEL ?? 'silent',
  SDBOT_MAX_PIXELS: '4096',
  SDBOT_DEFAULT_STEPS: '6',
  SDBOT_PREVIEW_EVERY: '2',
  SDBOT_HEARTBEAT_INTERVAL: '1s',
  SDBOT_GUILD_JOBS_PER_MINUTE: '1000',
  SDBOT_GUILD_BURST: '1000',
  SDBOT_USER_JOBS_PER_MINUTE: '1000',
  SDBOT_USER_BURST: '1000',
  SDBOT_USER_MAX_CONCURRENT: '100',
  SDBOT_GUILD_MAX_QUEUED: '1000',
};

/** Bot timings for tests: progress edits every 150 ms, quick heartbeats and adoption. */
export const FAST_BOT_DEPS: BotDeps = {
  progressIntervalMs: 150,
  heartbeatIntervalMs: 500,
  sweepIntervalMs: 250,
};

export interface BotWorldOptions {
  env?: NodeJS.ProcessEnv;
  /** The test nats-server's configuration (e.g. the real users and permissions). */
  nats?: NatsServerOptions;
  emulator?: DiscordEmulatorOptions;
  /** Workers to start (default: one simulated worker of model `sim` at 20 ms per step). */
  workers?: TestWorkerOptions[];
}

export class BotWorld {
  readonly bots: BotHandle[] = [];
  readonly workers: TestWorker[] = [];
  private client: TestClient | undefined;
  private services: { nats: NatsTestServer; emulator: DiscordEmulator } | undefined;
  private env: NodeJS.ProcessEnv = FAST_BOT_ENV;

  static async start(options: BotWorldOptions = {}): Promise<BotWorld> {
    const world = new BotWorld();
    await world.open(options);
    return world;
  }

  get nats(): NatsTestServer {
    return this.running().nats;
  }

  get emulator(): DiscordEmulator {
    return this.running().emulator;
  }

  private running(): { nats: NatsTestServer; emulator: DiscordEmulator } {
    if (this.services === undefined) throw new Error('the bot world is not started');
    return this.services;
  }

  /** Starts the server, the emulator (commands registered) and the workers; undoes it all on failure. */
  async open(options: BotWorldOptions = {}): Promise<void> {
    const nats = await startNatsServer(options.nats);
    const emulator = await startDiscordEmulator({ heartbeatIntervalMs: 500, ...options.emulator }).catch(
      async (error: unknown) => {
        await nats.cleanup();
        throw error;
      },
    );
    this.services = { nats, emulator };
    this.env = { ...FAST_BOT_ENV, ...options.env };
    try {
      await registerCommands({ token: emulator.botToken, apiUrl: emulator.apiUrl });
      for (const worker of options.workers ?? [{ models: ['sim'], msPerStep: 20 }]) {
        await this.startWorker(worker);
      }
    } catch (error) {
      await this.cleanup();
      throw error;
    }
  }

  config(env: NodeJS.ProcessEnv = {}): Config {
    return loadConfig({
      env: {
        ...this.env,
        NATS_URL: this.nats.url,
        DISCORD_TOKEN: this.emulator.botToken,
        DISCORD_API_URL: this.emulator.apiUrl,
        ...env,
      },
    });
  }

  async startWorker(options: TestWorkerOptions = {}): Promise<TestWorker> {
    const worker = await startTestWorker(this.nats.url, { ...options, env: { ...this.env, ...options.env } });
    this.workers.push(worker);
    return worker;
  }

  async startBot(deps: BotDeps = {}, env: NodeJS.ProcessEnv = {}): Promise<BotHandle> {
    const bot = await startBot(this.config(env), { ...FAST_BOT_DEPS, ...deps });
    this.bots.push(bot);
    return bot;
  }

  async stopBot(bot: BotHandle): Promise<void> {
    await bot.stop();
    this.bots.splice(this.bots.indexOf(bot), 1);
  }

  /** A job client of the test's own, to look at job state and stored images. */
  async jobs(): Promise<TestClient> {
    this.client ??= await openTestClient(this.nats.url, this.env);
    return this.client;
  }

  /** Replaces the registered slash commands (a "stale" registration, as an old version left it). */
  async registerRaw(
    change: (
      commands: RESTPostAPIChatInputApplicationCommandsJSONBody[],
    ) => RESTPostAPIChatInputApplicationCommandsJSONBody[],
  ): Promise<void> {
    const rest = new REST({ api: this.emulator.apiUrl }).setToken(this.emulator.botToken);
    await rest.put(Routes.applicationCommands(this.emulator.applicationId), {
      body: [...change(slashCommandDefinitions()), ...contextMenuDefinitions()],
    });
  }

  imagine(options: SendCommandInput['options'], input: Omit<SendCommandInput, 'name' | 'options'> = {}) {
    return this.emulator.sendCommand({
      name: 'imagine',
      ...input,
      ...(options === undefined ? {} : { options }),
    });
  }

  async cleanup(): Promise<void> {
    for (const bot of this.bots.splice(0)) await bot.stop().catch(() => undefined);
    for (const worker of this.workers.splice(0)) await worker.stop().catch(() => undefined);
    await this.client?.close().catch(() => undefined);
    await this.emulator.close();
    await this.nats.cleanup();
  }
}

export interface UseBotWorldOptions extends BotWorldOptions {
  /** Bot instances to start once the world is up (default 1), with these timings. */
  bots?: number;
  botDeps?: BotDeps;
}

/**
 * A bot world for the tests of one file: started before them (options may be computed then, e.g.
 * a loaded model), cleaned up after them, and the emulator must have seen no protocol errors.
 */
export function useBotWorld(
  options: UseBotWorldOptions | (() => Promise<UseBotWorldOptions>) = {},
): BotWorld {
  const world = new BotWorld();
  beforeAll(async () => {
    const { bots = 1, botDeps, ...worldOptions } = typeof options === 'function' ? await options() : options;
    await world.open(worldOptions);
    await Promise.all(Array.from({ length: bots }, () => world.startBot(botDeps)));
  });
  afterAll(async () => {
    await world.cleanup();
    expect(world.emulator.errors).toEqual([]);
  });
  return world;
}

/** A message carrying a finished result: an image and the U/V/re-roll/delete buttons. */
export function isResult(message: EmulatorMessage): boolean {
  return message.attachments.length === 1 && message.embeds.length === 1 && message.components.length > 0;
}

/** The original response once it shows a result. */
export function resultOf(interaction: EmulatorInteraction, timeoutMs = 15_000): Promise<EmulatorMessage> {
  return interaction.waitForOriginal(isResult, timeoutMs);
}

/** What the bot told only the user: an ephemeral reply, or an ephemeral follow-up. */
export function privateAnswer(
  world: BotWorld,
  interaction: EmulatorInteraction,
  timeoutMs = 5000,
): Promise<string> {
  return world.emulator.waitUntil(
    () => {
      const original = interaction.originalMessage();
      if (original?.ephemeral === true && !original.loading && original.content !== '')
        return original.content;
      return interaction.followUps().find((message) => message.ephemeral)?.content;
    },
    timeoutMs,
    `a private answer to interaction ${interaction.id}`,
  );
}

/** The job id in a result's embed footer (`job <id>`). */
export function jobIdOf(message: EmulatorMessage): string {
  const footer = message.embeds[0]?.footer?.text ?? '';
  const id = /^job (\S+)$/.exec(footer)?.[1];
  if (id === undefined) throw new Error(`message ${message.id} has no job footer (got "${footer}")`);
  return id;
}

/** Labels of a message's buttons, in layout order. */
export function buttonLabels(message: EmulatorMessage): string[] {
  const labels: string[] = [];
  for (const row of message.components) {
    if (!('components' in row)) continue;
    for (const component of row.components) {
      if ('label' in component && typeof component.label === 'string') labels.push(component.label);
    }
  }
  return labels;
}

export async function imageSize(data: Buffer): Promise<{ width: number; height: number; format: string }> {
  const { width, height, format } = await sharp(data).metadata();
  return { width, height, format };
}
