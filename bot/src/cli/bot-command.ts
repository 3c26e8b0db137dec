import {
  createLogger,
  loadConfig,
  runService,
  stringOption,
  UsageError,
  SdbotError,
  type CommandDefinition,
} from '@sdbot/shared';
import { startBot } from '../service/bot.js';
import { createBotMetrics } from '../service/metrics.js';

export const botCommand: CommandDefinition = {
  name: 'bot',
  summary: 'Run the Discord bot: slash commands, buttons, progress and results over NATS',
  usage: '[--nats URL] [--metrics-port PORT]',
  options: {
    nats: {
      type: 'string',
      valueName: 'URL',
      description: 'NATS server URL(s), comma-separated (default NATS_URL)',
    },
    'metrics-port': {
      type: 'string',
      valueName: 'PORT',
      description: 'Serve /metrics, /healthz and /readyz here (default SDBOT_METRICS_PORT)',
    },
  },
  details:
    'Needs DISCORD_TOKEN (Developer Portal, Bot page); register the commands once with\n' +
    '`sdbot register-commands`. Several bots may run against the same NATS: they share rate limits,\n' +
    'and when one stops the others post the results of its jobs. Runs until SIGINT, SIGTERM or SIGHUP.',
  async run({ options, env, signal }) {
    const overrides: Record<string, unknown> = {};
    const nats = stringOption(options, 'nats');
    if (nats !== undefined) overrides.NATS_URL = nats;
    const metricsPort = stringOption(options, 'metrics-port');
    if (metricsPort !== undefined) overrides.SDBOT_METRICS_PORT = metricsPort;
    const config = loadConfig({ env, overrides });
    if (config.nats.url === undefined) throw new UsageError('--nats is required (or set NATS_URL)');
    if (config.discord.token === undefined) {
      throw new SdbotError(
        'CONFIG_INVALID',
        'DISCORD_TOKEN is not set: create a bot in the Discord Developer Portal and put its token there',
      );
    }
    const logger = createLogger({ name: 'bot', level: config.log.level, format: config.log.format });
    const metrics = createBotMetrics();
    return runService({
      signal,
      logger,
      metrics: { port: config.metrics.port, registry: metrics.registry },
      start: () => startBot(config, { logger, metrics }),
    });
  },
};
