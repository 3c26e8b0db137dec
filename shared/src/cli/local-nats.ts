/**
 * The nats-server `sdbot up` runs when NATS_URL is not set: JetStream on localhost, its data and
 * its own log under the data directory, so the terminal shows sdbot's output only.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { SdbotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { SupervisedProcess } from './supervisor.js';

export function natsServerMissing(binary: string): SdbotError {
  return new SdbotError(
    'CONFIG_INVALID',
    `nats-server not found (${binary}): install it with \`apt-get install nats-server\` or download it from ` +
      'https://nats.io/download/ (or pass --nats-server PATH), or set NATS_URL to a running server',
  );
}

export function natsServerAvailable(binary: string): boolean {
  return spawnSync(binary, ['--version'], { encoding: 'utf8' }).status === 0;
}

const LOCAL_SERVER_NAME = 'sdbot-local';

/** Refuses to start when something already listens on the port: it may be another NATS server. */
export async function ensurePortFree(port: number): Promise<void> {
  const free = await new Promise<boolean>((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => {
      resolvePort(false);
    });
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolvePort(true);
      });
    });
  });
  if (!free) {
    throw new SdbotError(
      'CONFIG_INVALID',
      `port ${port} on 127.0.0.1 is already in use (another NATS server?): pass --port N for a local server ` +
        `of its own, or set NATS_URL=nats://127.0.0.1:${port} to use the server that is there`,
    );
  }
}

/**
 * Waits until the local server accepts clients, or fails if it exits first. Only our own server
 * counts: a server that answers on the port under another name is somebody else's.
 */
export async function waitForNats(
  url: string,
  server: SupervisedProcess,
  logFile: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.isRunning()) break;
    try {
      const probe = await connect({ servers: url, timeout: 500, reconnect: false });
      const name = probe.info?.server_name;
      await probe.close();
      if (name === LOCAL_SERVER_NAME) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new SdbotError(
    'NATS_UNAVAILABLE',
    `the local nats-server did not start on ${url} (see its log, ${logFile}; is the port taken? try --port)`,
  );
}

/** nats-server's own output (banner, warnings) goes here, not to the terminal. */
export function nativeLogPath(dataDir: string): string {
  return join(dataDir, 'nats-server.log');
}

/** Starts nats-server with JetStream storing under `dataDir`, listening on localhost only. */
export function startLocalNats(
  binary: string,
  dataDir: string,
  port: number,
  logger: Logger,
): { server: SupervisedProcess; logFile: string } {
  mkdirSync(dataDir, { recursive: true });
  const logFile = nativeLogPath(dataDir);
  const output = createWriteStream(logFile, { flags: 'a' });
  const configPath = join(dataDir, 'nats-server.conf');
  writeFileSync(
    configPath,
    [
      '# Written by `sdbot up`: a single local server with JetStream.',
      `server_name: "${LOCAL_SERVER_NAME}"`,
      `listen: "127.0.0.1:${port}"`,
      `jetstream { store_dir: ${JSON.stringify(join(dataDir, 'jetstream'))} }`,
      '',
    ].join('\n'),
  );
  const server = new SupervisedProcess({
    name: 'nats-server',
    command: binary,
    args: ['-c', configPath],
    env: process.env,
    output,
    logger,
  });
  server.start();
  return { server, logFile };
}
