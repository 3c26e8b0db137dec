import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { loadConfig, type Config } from '../config.js';
import { SdbotError } from '../errors.js';
import { LOG_EVENTS } from '../log-events.js';
import { createLogger, type Logger } from '../logger.js';
import { connectNats } from '../nats.js';
import { natsFailure } from '../nats/errors.js';
import { provisionJetStream } from '../nats/provision.js';
import { integerIn } from '../protocol/fields.js';
import {
  UsageError,
  numberOption,
  stringListOption,
  stringOption,
  type CommandDefinition,
} from './command.js';
import { discoverCommands } from './main.js';
import { SupervisedProcess } from './supervisor.js';

const sdbotEntryPoint = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/sdbot.js');
const DEFAULT_PORT = 4222;
/** How long children get to shut down cleanly before SIGKILL (workers finish within their grace). */
const CHILD_GRACE_MARGIN_MS = 10_000;

function natsServerMissing(binary: string): SdbotError {
  return new SdbotError(
    'CONFIG_INVALID',
    `nats-server not found (${binary}): install it with \`apt-get install nats-server\` or download it from ` +
      'https://nats.io/download/ (or pass --nats-server PATH), or set NATS_URL to a running server',
  );
}

function natsServerAvailable(binary: string): boolean {
  return spawnSync(binary, ['--version'], { encoding: 'utf8' }).status === 0;
}

const LOCAL_SERVER_NAME = 'sdbot-local';

/** Refuses to start when something already listens on the port: it may be another NATS server. */
async function ensurePortFree(port: number): Promise<void> {
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
async function waitForNats(url: string, server: SupervisedProcess, timeoutMs = 20_000): Promise<void> {
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
    `the local nats-server did not start on ${url} (see its log above; is the port taken? try --port)`,
  );
}

/** Starts nats-server with JetStream storing under `dataDir`, listening on localhost only. */
function startLocalNats(
  binary: string,
  dataDir: string,
  port: number,
  logger: Logger,
  output: NodeJS.WritableStream,
) {
  mkdirSync(dataDir, { recursive: true });
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
  return server;
}

/** Environment of child number `index`: ids and metrics ports must not collide. */
function childEnv(
  env: NodeJS.ProcessEnv,
  config: Config,
  natsUrl: string,
  metricsOffset: number,
  suffix: string,
) {
  const child: NodeJS.ProcessEnv = { ...env, NATS_URL: natsUrl };
  if (config.worker.workerId !== undefined) child.SDBOT_WORKER_ID = `${config.worker.workerId}-${suffix}`;
  if (config.metrics.port !== undefined)
    child.SDBOT_METRICS_PORT = String(config.metrics.port + metricsOffset);
  return child;
}

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

export const upCommand: CommandDefinition = {
  name: 'up',
  summary: 'Run everything on this machine: a local NATS server, one worker per model, and the bot',
  usage: '[--model DIR ...] [--simulate MS_PER_STEP] [--data DIR] [--port N] [--nats-server PATH]',
  options: {
    model: {
      type: 'string',
      multiple: true,
      valueName: 'DIR',
      description: 'Model directory (default SDBOT_MODELS); with --simulate, a model id',
    },
    simulate: {
      type: 'string',
      valueName: 'MS',
      description: 'Run simulated workers (no model, MS per step)',
    },
    data: {
      type: 'string',
      valueName: 'DIR',
      description: 'Where the local NATS server stores data (default ~/.sdbot/nats)',
    },
    port: {
      type: 'string',
      valueName: 'N',
      description: `Port of the local NATS server (default ${DEFAULT_PORT})`,
    },
    'nats-server': {
      type: 'string',
      valueName: 'PATH',
      description: 'nats-server binary (default: from PATH)',
    },
  },
  details:
    'With NATS_URL set, no local server is started. Workers that crash are restarted with backoff.\n' +
    'The Discord bot runs when DISCORD_TOKEN is set. Ctrl-C stops everything cleanly.',
  async run({ options, env, stderr, signal }) {
    const models = stringListOption(options, 'model');
    const config = loadConfig({ env, overrides: models.length > 0 ? { SDBOT_MODELS: models } : {} });
    const logger = createLogger({ name: 'up', level: config.log.level, destination: stderr });
    if (config.worker.models.length === 0) {
      throw new UsageError('no models: pass --model DIR (a model id with --simulate) or set SDBOT_MODELS');
    }
    const simulate = stringOption(options, 'simulate');
    if (simulate === undefined) {
      // A worker restarted with backoff would hide a typo in a path: refuse before starting anything.
      const missing = config.worker.models.filter((model) => !existsSync(join(model, 'model_index.json')));
      if (missing.length > 0) {
        throw new SdbotError(
          'MODEL_INVALID',
          `not a model directory (no model_index.json): ${missing.join(', ')}; download one with ` +
            '`sdbot models download REPO --dir DIR`, or run simulated workers with --simulate MS',
        );
      }
    }
    const port = numberOption(options, 'port', integerIn({ min: 1, max: 65_535 })) ?? DEFAULT_PORT;
    const dataDir = resolve(stringOption(options, 'data') ?? join(homedir(), '.sdbot', 'nats'));
    const binary = stringOption(options, 'nats-server') ?? 'nats-server';

    const children: SupervisedProcess[] = [];
    let natsServer: SupervisedProcess | undefined;
    let natsUrl = config.nats.url?.join(',');
    try {
      if (natsUrl === undefined) {
        if (!natsServerAvailable(binary)) throw natsServerMissing(binary);
        natsUrl = `nats://127.0.0.1:${port}`;
        await ensurePortFree(port);
        natsServer = startLocalNats(binary, dataDir, port, logger, stderr);
        await waitForNats(natsUrl, natsServer);
        logger.info({ url: natsUrl, dataDir }, LOG_EVENTS.nats.started);
      }
      const connection = await connectNats({ ...config.nats, url: natsUrl.split(',') }, { name: 'sdbot-up' });
      try {
        const jsm = await jetstreamManager(connection).catch((error: unknown) => {
          throw natsFailure(error, 'opening JetStream');
        });
        await provisionJetStream(jsm, config, { logger });
      } finally {
        await connection.close();
      }

      for (const [index, model] of config.worker.models.entries()) {
        const args = [sdbotEntryPoint, 'worker', '--model', model];
        if (simulate !== undefined) args.push('--simulate', simulate);
        const worker = new SupervisedProcess({
          name: `worker ${model}`,
          command: process.execPath,
          args,
          env: childEnv(env, config, natsUrl, index + 1, String(index)),
          output: stderr,
          logger,
        });
        worker.start();
        children.push(worker);
      }

      if (config.discord.token === undefined) {
        logger.info(
          { reason: 'DISCORD_TOKEN is not set: running without the Discord bot (try `sdbot imagine`)' },
          LOG_EVENTS.bot.skipped,
        );
      } else if ((await discoverCommands()).some((command) => command.name === 'bot')) {
        const bot = new SupervisedProcess({
          name: 'bot',
          command: process.execPath,
          args: [sdbotEntryPoint, 'bot'],
          env: childEnv(env, config, natsUrl, 0, 'bot'),
          output: stderr,
          logger,
        });
        bot.start();
        children.push(bot);
      } else {
        logger.warn(
          {
            reason:
              'DISCORD_TOKEN is set but this build has no `sdbot bot` command yet: running without the bot',
          },
          LOG_EVENTS.bot.skipped,
        );
      }
      logger.info(
        {
          url: natsUrl,
          workers: config.worker.models.length,
          next: `npx sdbot imagine --nats ${natsUrl} --prompt "a lighthouse at dusk" --out out.png`,
        },
        LOG_EVENTS.up.ready,
      );
      await untilAborted(signal);
      logger.info(LOG_EVENTS.up.stopping);
    } finally {
      const grace = config.worker.shutdownGraceMs + CHILD_GRACE_MARGIN_MS;
      await Promise.all(children.map((child) => child.stop(grace)));
      await natsServer?.stop(CHILD_GRACE_MARGIN_MS);
    }
    return 0;
  },
};
