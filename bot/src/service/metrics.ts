/**
 * Prometheus metrics of a bot instance, served on SDBOT_METRICS_PORT by `sdbot bot`. Each instance
 * has its own registry, so several bots in one process (tests) never collide. Job submissions and
 * outcomes are counted by the shared JobsClientMetrics in the same registry.
 */
import { counter, histogram, metricsInOwnRegistry, type RegistryMetrics } from '@sdbot/shared';

/** How an interaction ended, as the `outcome` label of sdbot_bot_interactions_total. */
/** How an interaction ended; `elsewhere`: another replica answered it first. */
export type InteractionOutcome = 'ok' | 'refused' | 'rate_limited' | 'error' | 'elsewhere';

/** Where a finished job's message went. */
export type DeliveryRoute = 'interaction' | 'channel' | 'dropped';

const BOT_METRICS = {
  interactions: counter(
    'sdbot_bot_interactions_total',
    'Commands and button clicks by name and how they ended',
    ['name', 'outcome'],
  ),
  deliveries: counter(
    'sdbot_bot_deliveries_total',
    'Finished jobs posted to Discord, by route (interaction reply or channel message) and outcome type',
    ['route', 'type'],
  ),
  adoptions: counter(
    'sdbot_bot_adopted_jobs_total',
    'Jobs taken over from a bot instance that stopped or went silent',
  ),
  jobLatency: histogram(
    'sdbot_bot_job_seconds',
    'Time from submission to the outcome being posted in Discord',
    [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
  ),
  rateLimited: counter(
    'sdbot_bot_rate_limited_total',
    'Jobs refused by a rate limit, by which limit (user-rate, user-concurrency, guild-rate, guild-queue)',
    ['reason'],
  ),
  discordErrors: counter(
    'sdbot_bot_discord_errors_total',
    'Discord API calls that failed, by what the bot was doing',
    ['action'],
  ),
};

export type BotMetrics = RegistryMetrics<typeof BOT_METRICS>;

export function createBotMetrics(): BotMetrics {
  return metricsInOwnRegistry(BOT_METRICS);
}
