import {
  createLogger,
  loadConfig,
  startMetricsServer,
  stringOption,
  UsageError,
  SdbotError,
  type CommandDefinition,
} from '@sdbot/shared';
import { collectDefaultMetrics } from 'prom-client';
import { startBot } from '../service/bot.js';
import { BotMetrics } from '../service/metrics.js';

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    signal.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

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
    'and when one stops the others post the results of its jobs. Runs until SIGINT/SIGTERM.',
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
    const logger = createLogger({ name: 'bot', level: config.log.level });
    const metrics = new BotMetrics();
    collectDefaultMetrics({ register: metrics.registry });
    const bot = await startBot(config, { logger, metrics });
    try {
      const metricsServer =
        config.metrics.port === undefined
          ? undefined
          : await startMetricsServer({
              port: config.metrics.port,
              registry: metrics.registry,
              isReady: () => bot.isReady(),
            });
      await untilAborted(signal);
      logger.info('bot:stopping');
      await metricsServer?.close();
    } finally {
      await bot.stop();
    }
    return 0;
  },
};
