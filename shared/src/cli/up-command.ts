import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Config } from '../config.js';
import { loadConfig } from '../config/load.js';
import { SdbotError } from '../errors.js';
import { LOG_EVENTS } from '../log-events.js';
import { createLogger, LOG_FORMATS, resolveLogFormat, type LogFormat, type Logger } from '../logger.js';
import { connectNats, type NatsConnection } from '../nats.js';
import { natsFailure } from '../nats/errors.js';
import { provisionJetStream } from '../nats/provision.js';
import { integerIn, oneOf } from '../protocol/fields.js';
import {
  UsageError,
  numberOption,
  stringListOption,
  stringOption,
  type CommandDefinition,
  type CommandIO,
} from './command.js';
import { ensureDefaultModel } from './default-model.js';
import {
  ensurePortFree,
  natsServerAvailable,
  natsServerMissing,
  startLocalNats,
  waitForNats,
} from './local-nats.js';
import { discoverCommands } from './main.js';
import { runService, type RunningService } from './service-runner.js';
import { SupervisedProcess } from './supervisor.js';
import { formatUpSummary } from './up-summary.js';
import { watchWorkers, type WorkerWatch } from './up-workers.js';

const sdbotEntryPoint = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/sdbot.js');
const DEFAULT_PORT = 4222;
/** How long children get to shut down cleanly before SIGKILL (workers finish within their grace). */
const CHILD_GRACE_MARGIN_MS = 10_000;
/** How often `up` looks for workers that came online or left. */
const WORKER_WATCH_INTERVAL_MS = 1000;

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

export const upCommand: CommandDefinition = {
  name: 'up',
  summary: 'Run everything on this machine: a local NATS server, one worker per model, and the bot',
  usage:
    '[--model DIR ...] [--upscaler DIR ...] [--yes] [--simulate MS_PER_STEP] [--data DIR] [--port N]\n' +
    '       [--nats-server PATH] [--log-format json|pretty]',
  options: {
    model: {
      type: 'string',
      multiple: true,
      valueName: 'DIR',
      description: 'Model directory (default SDBOT_MODELS); with --simulate, a model id',
    },
    upscaler: {
      type: 'string',
      multiple: true,
      valueName: 'DIR',
      description: 'Super-resolution model every worker also loads (default SDBOT_UPSCALERS)',
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
    yes: {
      type: 'boolean',
      short: 'y',
      description: 'Without a model, download the default one without asking',
    },
    'log-format': {
      type: 'string',
      valueName: 'FORMAT',
      description: 'Log lines: json, pretty or auto (default LOG_FORMAT; auto: pretty on a terminal)',
    },
  },
  details:
    'Without --model or SDBOT_MODELS it serves Stable Diffusion 1.5 (ONNX, fp32 on CPU, fp16 on a GPU\n' +
    'provider), downloaded once into ~/.cache/sdbot/models after asking (--yes: without asking).\n' +
    'With NATS_URL set, no local server is started; the local one logs to DATA/nats-server.log.\n' +
    'Workers that crash are restarted with backoff. The Discord bot runs when DISCORD_TOKEN is set.\n' +
    'Ctrl-C, SIGTERM and SIGHUP (a closed terminal) stop everything it started.',
  async run(io) {
    const { options, env, stderr, signal } = io;
    const models = stringListOption(options, 'model');
    const simulate = stringOption(options, 'simulate');
    const format = logFormatOption(stringOption(options, 'log-format'));
    const overrides: Record<string, unknown> = models.length > 0 ? { SDBOT_MODELS: models } : {};
    const upscalers = stringListOption(options, 'upscaler');
    if (upscalers.length > 0) overrides.SDBOT_UPSCALERS = upscalers;
    if (format !== undefined) overrides.LOG_FORMAT = format;
    let config = loadConfig({ env, overrides });
    const logFormat = resolveLogFormat(config.log.format, stderr);
    const logger = createLogger({
      name: 'up',
      level: config.log.level,
      format: logFormat,
      destination: stderr,
    });
    // Every flag is checked before a download that may take an hour.
    const port = numberOption(options, 'port', integerIn({ min: 1, max: 65_535 })) ?? DEFAULT_PORT;
    const dataDir = resolve(stringOption(options, 'data') ?? join(homedir(), '.sdbot', 'nats'));
    const binary = stringOption(options, 'nats-server') ?? 'nats-server';
    if (config.worker.models.length === 0) {
      if (simulate !== undefined) {
        throw new UsageError('no models: pass --model DIR (a model id with --simulate) or set SDBOT_MODELS');
      }
      const directory = await ensureDefaultModel({ ...io, config, yes: options.yes === true, logger });
      config = loadConfig({ env, overrides: { ...overrides, SDBOT_MODELS: [directory] } });
    }
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
    return runService({
      signal,
      logger,
      start: () => startEverything({ io, config, logger, logFormat, simulate, port, dataDir, binary }),
    });
  },
};

function logFormatOption(raw: string | undefined): LogFormat | undefined {
  if (raw === undefined) return undefined;
  const parsed = oneOf(LOG_FORMATS).safeParse(raw);
  if (!parsed.success)
    throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')} (got "${raw}")`);
  return parsed.data;
}

interface StartOptions {
  io: CommandIO;
  config: Config;
  logger: Logger;
  logFormat: 'json' | 'pretty';
  simulate: string | undefined;
  port: number;
  dataDir: string;
  binary: string;
}

/** Starts nats-server (unless NATS_URL is set), provisions it, then a worker per model and the bot. */
async function startEverything(options: StartOptions): Promise<RunningService> {
  const { io, config, logger, logFormat, simulate, port, dataDir, binary } = options;
  const { env, stderr } = io;
  const children: SupervisedProcess[] = [];
  let natsServer: SupervisedProcess | undefined;
  let natsLog: string | undefined;
  let connection: NatsConnection | undefined;
  let workers: WorkerWatch | undefined;
  const stop = async () => {
    workers?.stop();
    await connection?.close().catch(() => undefined);
    const grace = config.worker.shutdownGraceMs + CHILD_GRACE_MARGIN_MS;
    await Promise.all(children.map((child) => child.stop(grace)));
    await natsServer?.stop(CHILD_GRACE_MARGIN_MS);
  };
  try {
    let natsUrl = config.nats.url?.join(',');
    if (natsUrl === undefined) {
      if (!natsServerAvailable(binary)) throw natsServerMissing(binary);
      natsUrl = `nats://127.0.0.1:${port}`;
      await ensurePortFree(port);
      const local = startLocalNats(binary, dataDir, port, logger);
      natsServer = local.server;
      natsLog = local.logFile;
      await waitForNats(natsUrl, natsServer, natsLog);
      logger.info({ url: natsUrl, dataDir, log: natsLog }, LOG_EVENTS.nats.started);
    }
    connection = await connectNats({ ...config.nats, url: natsUrl.split(',') }, { name: 'sdbot-up' });
    const jsm = await jetstreamManager(connection).catch((error: unknown) => {
      throw natsFailure(error, 'opening JetStream');
    });
    // A terminal gets the summary below, not a line per stream created.
    const provisionLogger = logFormat === 'pretty' ? logger.child({}, { level: 'warn' }) : logger;
    await provisionJetStream(jsm, config, { logger: provisionLogger });
    workers = await watchWorkers(connection, logger, WORKER_WATCH_INTERVAL_MS);
    // Children write to a pipe, so they would pick JSON: they follow what this terminal shows.
    const childLogs = { LOG_FORMAT: logFormat };
    for (const [index, model] of config.worker.models.entries()) {
      const args = [sdbotEntryPoint, 'worker', '--model', model];
      if (simulate !== undefined) args.push('--simulate', simulate);
      // Each worker serves the upscalers too, so a Creative upscale finds one beside its model.
      for (const upscaler of config.worker.upscalers) args.push('--upscaler', upscaler);
      const worker = new SupervisedProcess({
        name: `worker ${model}`,
        command: process.execPath,
        args,
        env: { ...childEnv(env, config, natsUrl, index + 1, String(index)), ...childLogs },
        output: stderr,
        logger,
      });
      worker.start();
      children.push(worker);
    }
    let bot: 'running' | 'no token' | 'not in this build' = 'no token';
    if (config.discord.token === undefined) {
      logger.info(
        { reason: 'DISCORD_TOKEN is not set: running without the Discord bot (try `sdbot imagine`)' },
        LOG_EVENTS.bot.skipped,
      );
    } else if ((await discoverCommands()).some((command) => command.name === 'bot')) {
      const process_ = new SupervisedProcess({
        name: 'bot',
        command: process.execPath,
        args: [sdbotEntryPoint, 'bot'],
        env: { ...childEnv(env, config, natsUrl, 0, 'bot'), ...childLogs },
        output: stderr,
        logger,
      });
      process_.start();
      children.push(process_);
      bot = 'running';
    } else {
      bot = 'not in this build';
      logger.warn(
        {
          reason:
            'DISCORD_TOKEN is set but this build has no `sdbot bot` command yet: running without the bot',
        },
        LOG_EVENTS.bot.skipped,
      );
    }
    const next = `npx sdbot imagine --nats ${natsUrl} --prompt "a lighthouse at dusk" --out out.png`;
    if (logFormat === 'json') {
      logger.info({ url: natsUrl, workers: config.worker.models.length, next }, LOG_EVENTS.up.ready);
    } else {
      stderr.write(
        formatUpSummary({
          natsUrl,
          dataDir: natsServer === undefined ? undefined : dataDir,
          natsLog,
          workers: config.worker.models.map((model) => ({
            model,
            provider: simulate === undefined ? config.worker.executionProvider : 'simulated',
          })),
          bot,
          next,
        }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { isReady: () => true, stop };
}
