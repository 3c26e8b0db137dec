import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { natsFailure } from '../nats/errors.js';
import { WorkerRegistry } from '../nats/kv.js';
import { collectStatus, type JobSystemStatus } from '../nats/status.js';
import { integerIn } from '../protocol/fields.js';
import { numberOption, type CommandDefinition } from './command.js';
import { configWithNats, connectAsClient, natsUrlOption } from './nats-cli.js';

function ago(then: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function table(rows: string[][]): string[] {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) =>
    `  ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')}`.trimEnd(),
  );
}

type WorkerStatus = JobSystemStatus['workers'][number];

/**
 * A real model without its safety checker is called out: its images reach users unchecked.
 * Simulated workers draw test patterns, and their provider column already says so.
 */
function describeModels(worker: WorkerStatus): string {
  return worker.models
    .map((model) => {
      // Upscalers enlarge checked images and have no checker of their own.
      if (model.upscaler !== undefined) return `${model.id} (upscaler ${model.upscaler.scale}x)`;
      return model.safetyChecker || worker.simulated ? model.id : `${model.id} (safety checker: OFF)`;
    })
    .join(',');
}

export function formatStatus(status: JobSystemStatus): string {
  const { at } = status;
  const lines = [`Workers (${status.workers.length}):`];
  if (status.workers.length === 0) lines.push('  none online');
  else {
    lines.push(
      ...table([
        ['ID', 'MODELS', 'PROVIDER', 'FREE/SLOTS', 'JOBS/MIN', 'STEPS/S', 'SEEN'],
        ...status.workers.map((worker) => [
          worker.workerId,
          describeModels(worker),
          worker.simulated ? `${worker.provider} (simulated)` : worker.provider,
          `${worker.slots.free}/${worker.slots.total}`,
          worker.throughput.jobsPerMinute.toFixed(1),
          worker.throughput.stepsPerSecond.toFixed(1),
          `${ago(worker.at, at)} ago`,
        ]),
      ]),
    );
  }
  lines.push('', 'Queues:');
  if (status.queues.length === 0) lines.push('  no models');
  else {
    lines.push(
      ...table([
        ['MODEL', 'QUEUED', 'BACKLOG/LANES', 'RUNNING', 'WORKERS', 'OLDEST WAITING'],
        ...status.queues.map((queue) => [
          queue.model,
          String(queue.queued),
          `${queue.backlog}/${queue.lanes}`,
          String(queue.running),
          String(queue.workers),
          queue.oldestQueuedAt === null ? '-' : ago(queue.oldestQueuedAt, at),
        ]),
      ]),
    );
  }
  lines.push('', `Dead letters: ${status.deadLetters.count}`);
  for (const letter of status.deadLetters.recent) {
    lines.push(
      `  ${new Date(letter.at).toISOString()}  ${letter.model ?? '?'}  ${letter.jobId ?? '(no id)'}  [${letter.code}] ${letter.reason}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export const statusCommand: CommandDefinition = {
  name: 'status',
  summary: 'Show live workers, the queue of each model and the latest dead letters',
  usage: '--nats URL [--dead N] [--json]',
  options: {
    nats: natsUrlOption,
    dead: { type: 'string', valueName: 'N', description: 'How many recent dead letters to show (default 5)' },
    json: { type: 'boolean', description: 'Print JSON' },
  },
  async run({ options, env, stdout }) {
    const recentDeadLetterCount = numberOption(options, 'dead', integerIn({ min: 0, max: 100 })) ?? 5;
    const config = configWithNats(options, env);
    const connection = await connectAsClient(config, 'sdbot-status');
    try {
      const jsm = await jetstreamManager(connection).catch((error: unknown) => {
        throw natsFailure(error, 'opening JetStream');
      });
      const status = await collectStatus(jsm, await WorkerRegistry.open(jetstream(connection)), {
        recentDeadLetterCount,
      });
      stdout.write(options.json === true ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    } finally {
      await connection.close();
    }
    return 0;
  },
};
