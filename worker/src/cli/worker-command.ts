import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  INBOX_PREFIXES,
  UsageError,
  connectNats,
  createLogger,
  loadConfig,
  runService,
  stringListOption,
  stringOption,
  type CommandDefinition,
  type Config,
  type Logger,
  type NatsConnection,
  type RunningService,
} from '@sdbot/shared';
import type { ImageGenerator } from '../service/generator.js';
import { createWorkerMetrics, type WorkerMetrics } from '../service/metrics.js';
import { PipelineGenerator } from '../service/pipeline-generator.js';
import { warnUncheckedModels } from '../service/safety-warning.js';
import { SimulatedGenerator } from '../service/simulated-generator.js';
import { WorkerService } from '../service/worker-service.js';
import { loadUpscalers } from '../upscale/load.js';
import { UpscalingGenerator } from '../upscale/upscaling-generator.js';

/** How long the connection may take to drain on the way out before it is closed. */
const DRAIN_TIMEOUT_MS = 1000;

/** Host name plus a random suffix, reduced to a valid subject token. */
function defaultWorkerId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 48) || 'worker';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

async function softwareVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? '0.0.0';
}

function parseMsPerStep(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 60_000) {
    throw new UsageError(
      `--simulate must be milliseconds per step in 0..60000 (got ${JSON.stringify(text)})`,
    );
  }
  return value;
}

export const workerCommand: CommandDefinition = {
  name: 'worker',
  summary: 'Run a worker: pull generation jobs from NATS for the models it loads',
  usage:
    '--nats URL --model DIR [--model DIR ...] [--upscaler DIR ...] [--simulate MS_PER_STEP] [--slots N] [--id ID]',
  options: {
    nats: {
      type: 'string',
      valueName: 'URL',
      description: 'NATS server URL(s), comma-separated (default NATS_URL)',
    },
    model: {
      type: 'string',
      multiple: true,
      valueName: 'DIR',
      description: 'Model directory to load (default SDBOT_MODELS); with --simulate, a model id',
    },
    upscaler: {
      type: 'string',
      multiple: true,
      valueName: 'DIR',
      description:
        'Super-resolution model to load: a directory with one .onnx file (default SDBOT_UPSCALERS)',
    },
    simulate: {
      type: 'string',
      valueName: 'MS',
      description: 'Load no model: sleep MS per step and return generated test images',
    },
    slots: {
      type: 'string',
      valueName: 'N',
      description: 'Jobs to run at once (default SDBOT_WORKER_SLOTS)',
    },
    id: { type: 'string', valueName: 'ID', description: 'Worker id (default SDBOT_WORKER_ID or host name)' },
    'metrics-port': {
      type: 'string',
      valueName: 'PORT',
      description: 'Serve /metrics, /healthz and /readyz here (default SDBOT_METRICS_PORT)',
    },
  },
  details:
    'The worker runs until SIGINT, SIGTERM or SIGHUP, then stops pulling, lets running jobs finish for\n' +
    'SDBOT_SHUTDOWN_GRACE, hands the rest back to the queue and leaves the worker registry; it\n' +
    'exits within the grace even when NATS is unreachable. Each job gets SDBOT_JOB_TIMEOUT.',
  async run({ options, env, signal }) {
    const overrides: Record<string, unknown> = {};
    const models = stringListOption(options, 'model');
    if (models.length > 0) overrides.SDBOT_MODELS = models;
    const upscalerPaths = stringListOption(options, 'upscaler');
    if (upscalerPaths.length > 0) overrides.SDBOT_UPSCALERS = upscalerPaths;
    const flags = {
      nats: 'NATS_URL',
      slots: 'SDBOT_WORKER_SLOTS',
      id: 'SDBOT_WORKER_ID',
      'metrics-port': 'SDBOT_METRICS_PORT',
    };
    for (const [flag, variable] of Object.entries(flags)) {
      const value = stringOption(options, flag);
      if (value !== undefined) overrides[variable] = value;
    }
    const config = loadConfig({ env, overrides });
    if (config.worker.models.length === 0 && config.worker.upscalers.length === 0) {
      throw new UsageError('--model or --upscaler is required (or set SDBOT_MODELS or SDBOT_UPSCALERS)');
    }
    if (config.nats.url === undefined) throw new UsageError('--nats is required (or set NATS_URL)');
    const simulate = stringOption(options, 'simulate');
    const workerId = config.worker.workerId ?? defaultWorkerId();
    const logger = createLogger({
      name: 'worker',
      level: config.log.level,
      format: config.log.format,
      bindings: { workerId },
    });

    const metrics = createWorkerMetrics();
    return runService({
      signal,
      logger,
      metrics: { port: config.metrics.port, registry: metrics.registry },
      start: () => startWorker({ config, workerId, simulate, logger, metrics }),
    });
  },
};

interface StartWorkerOptions {
  config: Config;
  workerId: string;
  simulate: string | undefined;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** Loads the models, connects and starts pulling; `stop()` drains and releases all of it. */
async function startWorker({
  config,
  workerId,
  simulate,
  logger,
  metrics,
}: StartWorkerOptions): Promise<RunningService> {
  const diffusion: ImageGenerator | undefined =
    config.worker.models.length === 0
      ? undefined
      : simulate === undefined
        ? await PipelineGenerator.load(config.worker.models, config, logger)
        : new SimulatedGenerator(config.worker.models, parseMsPerStep(simulate));
  const upscalers = await loadUpscalers(config.worker.upscalers, config, logger).catch(
    async (error: unknown) => {
      await diffusion?.close();
      throw error;
    },
  );
  const generator: ImageGenerator = new UpscalingGenerator(diffusion, upscalers, config, logger);
  warnUncheckedModels(logger, generator);
  let connection: NatsConnection | undefined;
  let service: WorkerService | undefined;
  const release = async () => {
    await service?.stop();
    // Draining waits for the server; one that is gone must not keep the process alive.
    if (connection !== undefined) {
      const open = connection;
      const drained = await Promise.race([
        open.drain().then(
          () => true,
          () => false,
        ),
        sleep(DRAIN_TIMEOUT_MS).then(() => false),
      ]);
      if (!drained) await open.close().catch(() => undefined);
    }
    await generator.close();
  };
  try {
    connection = await connectNats(config.nats, {
      name: `sdbot-worker-${workerId}`,
      waitOnFirstConnect: true,
      inboxPrefix: INBOX_PREFIXES.worker,
    });
    service = await WorkerService.start({
      connection,
      generator,
      config,
      workerId,
      version: await softwareVersion(),
      logger,
      metrics,
    });
  } catch (error) {
    await release();
    throw error;
  }
  const running = service;
  return { isReady: () => running.isReady(), stop: release };
}
