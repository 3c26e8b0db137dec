/** What every interaction handler of a running bot instance can use. */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Client } from 'discord.js';
import type { Config, JobsClient, Logger } from '@sdbot/shared';
import type { DeliveryService } from '../delivery/service.js';
import type { DeliveryStore } from '../delivery/store.js';
import type { JobDefaults } from '../prompt/job-request.js';
import type { RateLimiter } from '../ratelimit/limiter.js';
import type { SettingsDefaults } from '../settings/keys.js';
import type { UserPreferencesStore } from '../preferences/store.js';
import type { DailyQuota } from '../quota/daily-quota.js';
import type { GuildSettingsStore } from '../settings/store.js';
import type { BotMetrics } from './metrics.js';

export interface BotContext {
  config: Config;
  client: Client;
  jobs: JobsClient;
  jsm: JetStreamManager;
  settings: GuildSettingsStore;
  /** Each member's own defaults (/preferences). */
  preferences: UserPreferencesStore;
  /** Daily image quotas per member of a server and per server. */
  quotas: DailyQuota;
  limiter: RateLimiter;
  deliveries: DeliveryStore;
  delivery: DeliveryService;
  logger: Logger;
  metrics: BotMetrics;
  now: () => number;
  jobDefaults: JobDefaults;
  settingsDefaults: SettingsDefaults;
  /** This software's version, for /info. */
  version: string;
}
