/**
 * The NATS connection every process opens: servers, credentials and timeouts from the config, and
 * a connection failure reported with the URL (credentials masked).
 */
import { readFile } from 'node:fs/promises';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import type { Config } from './config.js';
import { SdbotError } from './errors.js';
import { redactText } from './logger.js';

export type { NatsConnection } from '@nats-io/transport-node';

export interface ConnectNatsOptions {
  /** Connection name shown in the server's monitoring (`sdbot-worker-gpu1`). */
  name: string;
  /** Keep retrying the first connection instead of failing at once (long-running services). */
  waitOnFirstConnect?: boolean;
  timeoutMs?: number;
  /**
   * Reply subjects start with this prefix instead of `_INBOX` (see INBOX_PREFIXES): the server
   * configuration in deploy/nats lets each user subscribe only to its own prefix.
   */
  inboxPrefix?: string;
}

/** Connects with the credentials from config; a failure names the server (without credentials). */
export async function connectNats(
  nats: Config['nats'],
  options: ConnectNatsOptions,
): Promise<NatsConnection> {
  if (nats.url === undefined) {
    throw new SdbotError('CONFIG_INVALID', 'NATS_URL is not set (or pass --nats nats://host:4222)');
  }
  const connectionOptions: NodeConnectionOptions = {
    servers: nats.url,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: options.timeoutMs ?? 5000,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
    // nats.js would capture a stack for every request up front, a large share of the CPU a job
    // costs the bot and the worker; our errors name the operation that failed instead.
    noAsyncTraces: true,
  };
  if (options.inboxPrefix !== undefined) connectionOptions.inboxPrefix = options.inboxPrefix;
  if (nats.user !== undefined) connectionOptions.user = nats.user;
  if (nats.password !== undefined) connectionOptions.pass = nats.password;
  if (nats.token !== undefined) connectionOptions.token = nats.token;
  if (nats.credsFile !== undefined) {
    const creds = await readFile(nats.credsFile).catch((cause: unknown) => {
      throw new SdbotError('CONFIG_INVALID', `NATS_CREDS: cannot read ${nats.credsFile ?? ''}`, { cause });
    });
    connectionOptions.authenticator = credsAuthenticator(new Uint8Array(creds));
  }
  try {
    return await connect(connectionOptions);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SdbotError(
      'NATS_UNAVAILABLE',
      redactText(`cannot connect to NATS at ${nats.url.join(', ')}: ${reason}`),
      { cause },
    );
  }
}
