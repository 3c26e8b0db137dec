import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import {
  INBOX_PREFIXES,
  UsageError,
  connectNats,
  createLogger,
  loadConfig,
  startMetricsServer,
  stringListOption,
  stringOption,
  type CommandDefinition,
} from '@sdbot/shared';
import { collectDefaultMetrics } from 'prom-client';
import type { ImageGenerator } from '../service/generator.js';
import { WorkerMetrics } from '../service/metrics.js';
import { PipelineGenerator } from '../service/pipeline-generator.js';
import { warnUncheckedModels } from '../service/safety-warning.js';
import { SimulatedGenerator } from '../service/simulated-generator.js';
import { WorkerService } from '../service/worker-service.js';
import { loadUpscalers } from '../upscale/load.js';
import { UpscalingGenerator } from '../upscale/upscaling-generator.js';

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

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else {
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
    }
  });
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
    'The worker runs until SIGINT/SIGTERM, then stops pulling, lets running jobs finish for\n' +
    'SDBOT_SHUTDOWN_GRACE, hands the rest back to the queue and leaves the worker registry.',
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
    const logger = createLogger({ name: 'worker', level: config.log.level, bindings: { workerId } });

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
    const connection = await connectNats(config.nats, {
      name: `sdbot-worker-${workerId}`,
      waitOnFirstConnect: true,
      inboxPrefix: INBOX_PREFIXES.worker,
    });
    const metrics = new WorkerMetrics();
    collectDefaultMetrics({ register: metrics.registry });
    let service: WorkerService | undefined;
    try {
      service = await WorkerService.start({
        connection,
        generator,
        config,
        workerId,
        version: await softwareVersion(),
        logger,
        metrics,
      });
      const running = service;
      const metricsServer =
        config.metrics.port === undefined
          ? undefined
          : await startMetricsServer({
              port: config.metrics.port,
              registry: metrics.registry,
              isReady: () => running.isReady(),
            });
      await untilAborted(signal);
      logger.info('worker:stopping');
      await service.stop();
      await metricsServer?.close();
    } finally {
      await service?.stop();
      await connection.drain().catch(() => undefined);
      await generator.close();
    }
    return 0;
  },
};
