/**
 * Prometheus metrics of a bot instance, served on SDBOT_METRICS_PORT by `sdbot bot`. Each instance
 * has its own registry, so several bots in one process (tests) never collide. Job submissions and
 * outcomes are counted by the shared JobsClientMetrics in the same registry.
 */
import { Counter, Histogram, Registry } from 'prom-client';

/** How an interaction ended, as the `outcome` label of sdbot_bot_interactions_total. */
/** How an interaction ended; `elsewhere`: another replica answered it first. */
export type InteractionOutcome = 'ok' | 'refused' | 'rate_limited' | 'error' | 'elsewhere';

/** Where a finished job's message went. */
export type DeliveryRoute = 'interaction' | 'channel' | 'dropped';

export class BotMetrics {
  readonly registry = new Registry();
  readonly interactions = new Counter({
    name: 'sdbot_bot_interactions_total',
    help: 'Commands and button clicks by name and how they ended',
    labelNames: ['name', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'sdbot_bot_deliveries_total',
    help: 'Finished jobs posted to Discord, by route (interaction reply or channel message) and outcome type',
    labelNames: ['route', 'type'] as const,
    registers: [this.registry],
  });
  readonly adoptions = new Counter({
    name: 'sdbot_bot_adopted_jobs_total',
    help: 'Jobs taken over from a bot instance that stopped or went silent',
    registers: [this.registry],
  });
  readonly jobLatency = new Histogram({
    name: 'sdbot_bot_job_seconds',
    help: 'Time from submission to the outcome being posted in Discord',
    buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'sdbot_bot_rate_limited_total',
    help: 'Jobs refused by a rate limit, by which limit (user-rate, user-concurrency, guild-rate, guild-queue)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly discordErrors = new Counter({
    name: 'sdbot_bot_discord_errors_total',
    help: 'Discord API calls that failed, by what the bot was doing',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
}
