/** What the NATS-facing commands (imagine, status, nats setup) share: --nats, config, connection. */
import type { Config } from '../config.js';
import { loadConfig } from '../config/load.js';
import { INBOX_PREFIXES } from '../names.js';
import { connectNats, type NatsConnection } from '../nats.js';
import { UsageError, stringOption, type OptionSpec, type ParsedOptions } from './command.js';

export const natsUrlOption: OptionSpec = {
  type: 'string',
  valueName: 'URL',
  description: 'NATS server URL(s), comma-separated (default NATS_URL)',
};

/** Configuration with --nats applied; fails with a usage error when no server is named at all. */
export function configWithNats(options: ParsedOptions, env: NodeJS.ProcessEnv): Config {
  const url = stringOption(options, 'nats');
  const config = loadConfig({ env, overrides: url === undefined ? {} : { NATS_URL: url } });
  if (config.nats.url === undefined) throw new UsageError('--nats is required (or set NATS_URL)');
  return config;
}

/** Connects as the requesting side (the bot's NATS user and inbox prefix). */
export function connectAsClient(config: Config, name: string): Promise<NatsConnection> {
  return connectNats(config.nats, { name, inboxPrefix: INBOX_PREFIXES.bot });
}
