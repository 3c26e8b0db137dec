/**
 * A running bot instance: the discord.js client (Guilds intent only, REST base from
 * DISCORD_API_URL so the same code runs against the emulator), NATS for jobs, settings, rate limits
 * and deliveries, and the delivery service that follows jobs to their posted outcome. Several
 * instances may run at once against the same NATS; `stop()` hands this one's jobs to the others.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { Client, Events, GatewayIntentBits, type Interaction } from 'discord.js';
import {
  INBOX_PREFIXES,
  JobsClient,
  JobsClientMetrics,
  LOG_EVENTS,
  registerSystemMetrics,
  SdbotError,
  connectNats,
  createLogger,
  type Config,
  type Logger,
  type NatsConnection,
} from '@sdbot/shared';
import { DeliveryService } from '../delivery/service.js';
import { DeliveryStore } from '../delivery/store.js';
import type { TrackerContext } from '../delivery/tracker.js';
import { UserPreferencesStore } from '../preferences/store.js';
import { jobDefaultsFromConfig } from '../prompt/job-request.js';
import { DailyQuota } from '../quota/daily-quota.js';
import { RateLimiter } from '../ratelimit/limiter.js';
import { settingsDefaultsFromConfig } from '../settings/keys.js';
import { GuildSettingsStore } from '../settings/store.js';
import type { BotContext } from './context.js';
import { createBotMetrics, type BotMetrics } from './metrics.js';
import { interactionHandler } from './router.js';

export interface BotDeps {
  logger?: Logger;
  /** NATS connection to use (left open by `stop()`); default: connect with `config.nats`. */
  connection?: NatsConnection;
  metrics?: BotMetrics;
  now?: () => number;
  /** Least time between two progress edits of one message (default 2 s). */
  progressIntervalMs?: number;
  /** How often this instance writes its heartbeat (default 5 s). */
  heartbeatIntervalMs?: number;
  /** How often to look for jobs left by stopped instances (default 5 s). */
  sweepIntervalMs?: number;
}

export interface BotHandle {
  readonly client: Client<true>;
  /** This instance's id in the deliveries bucket. */
  readonly instanceId: string;
  readonly metrics: BotMetrics;
  /** Connected to Discord and NATS. */
  isReady(): boolean;
  /** Stops handling interactions, hands pending jobs to other instances, disconnects. */
  stop(): Promise<void>;
}

const DEFAULTS = { progressIntervalMs: 2000, heartbeatIntervalMs: 5000, sweepIntervalMs: 5000 } as const;
/** How long after a job's queue lifetime the bot stops waiting for its outcome. */
const OUTCOME_GRACE_MS = 60 * 60 * 1000;

async function softwareVersion(): Promise<string> {
  try {
    const manifest = JSON.parse(
      await readFile(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function startBot(config: Config, deps: BotDeps = {}): Promise<BotHandle> {
  const token = config.discord.token;
  if (token === undefined) {
    throw new SdbotError(
      'CONFIG_INVALID',
      'DISCORD_TOKEN is not set: create a bot in the Discord Developer Portal and put its token there',
    );
  }
  const instanceId = `bot-${randomBytes(6).toString('hex')}`;
  const logger = (deps.logger ?? createLogger({ name: 'bot', level: config.log.level })).child({
    instanceId,
  });
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createBotMetrics();
  const ownConnection = deps.connection === undefined;
  const connection =
    deps.connection ??
    (await connectNats(config.nats, {
      name: `sdbot-${instanceId}`,
      inboxPrefix: INBOX_PREFIXES.bot,
      waitOnFirstConnect: true,
    }));
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: config.discord.apiUrl } });
  let delivery: DeliveryService | undefined;
  let jobs: JobsClient | undefined;
  let listener: ((interaction: Interaction) => void) | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (listener !== undefined) client.off(Events.InteractionCreate, listener);
    await delivery?.stop();
    jobs?.dispatcher.stop();
    await client.destroy();
    if (ownConnection) await connection.drain().catch(() => undefined);
    logger.info(LOG_EVENTS.bot.stopped);
  };
  try {
    const [jobsClient, jsm, settings, limiter, deliveries, version, preferences, quotas] = await Promise.all([
      JobsClient.open(connection, config, { logger, metrics: new JobsClientMetrics(metrics.registry) }),
      jetstreamManager(connection),
      GuildSettingsStore.open(connection, { config }),
      RateLimiter.open(connection, { defaults: config.rateLimits, config }),
      DeliveryStore.open(connection, { config }),
      softwareVersion(),
      UserPreferencesStore.open(connection, { config }),
      DailyQuota.open(connection, { config, now }),
    ]);
    jobs = jobsClient;
    registerSystemMetrics(metrics.registry, { jsm, workers: jobsClient.workers });
    const trackerContext: TrackerContext = {
      jobs,
      deliveries,
      limiter,
      settings,
      client,
      connection,
      logger,
      metrics,
      instanceId,
      now,
      progressIntervalMs: deps.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
      outcomeTimeoutMs: config.jetstream.jobMaxAgeMs + OUTCOME_GRACE_MS,
    };
    delivery = new DeliveryService(trackerContext, {
      heartbeatIntervalMs: deps.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      sweepIntervalMs: deps.sweepIntervalMs ?? DEFAULTS.sweepIntervalMs,
    });
    const context: BotContext = {
      config,
      client,
      jobs,
      jsm,
      settings,
      preferences,
      quotas,
      limiter,
      deliveries,
      delivery,
      logger,
      metrics,
      now,
      jobDefaults: jobDefaultsFromConfig(config),
      settingsDefaults: settingsDefaultsFromConfig(config),
      version,
    };
    client.on(Events.Error, (error) => {
      logger.error({ err: error }, LOG_EVENTS.discord.errored);
    });
    client.on(Events.Warn, (message) => {
      logger.warn({ detail: message }, LOG_EVENTS.discord.warned);
    });
    client.on(Events.ShardDisconnect, (event, shard) => {
      logger.warn({ shard, code: event.code }, LOG_EVENTS.gateway.disconnected);
    });
    client.on(Events.ShardResume, (shard, replayed) => {
      logger.info({ shard, replayed }, LOG_EVENTS.gateway.resumed);
    });
    const handle = interactionHandler(context);
    listener = (interaction) => {
      void handle(interaction);
    };
    client.on(Events.InteractionCreate, listener);
    await Promise.all([once(client, Events.ClientReady), client.login(token)]);
    if (!client.isReady()) throw new SdbotError('DISCORD_API', 'the Discord client is not ready after login');
    // Jobs left by stopped instances are posted with the bot token, so this waits for the login.
    await delivery.start();
    logger.info({ user: client.user.tag, guilds: client.guilds.cache.size, version }, LOG_EVENTS.bot.ready);
    const ready = client;
    return {
      client: ready,
      instanceId,
      metrics,
      isReady: () => !stopped && ready.isReady() && !connection.isClosed(),
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
