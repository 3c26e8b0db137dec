import { setTimeout as sleep } from 'node:timers/promises';
import { styleText } from 'node:util';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { parseDuration } from '../config.js';
import { useColour } from '../logger.js';
import { natsFailure } from '../nats/errors.js';
import { backlogLanes, type LaneCounts } from '../nats/queue-reads.js';
import { WorkerRegistry } from '../nats/kv.js';
import { collectStatus, type JobSystemStatus } from '../nats/status.js';
import { integerIn } from '../protocol/fields.js';
import { numberOption, stringOption, UsageError, type CommandDefinition } from './command.js';
import { configWithNats, connectAsClient, natsUrlOption } from './nats-cli.js';

type Style = Parameters<typeof styleText>[0];

/** Cell text and how to colour it on a terminal (padding is computed on the plain text). */
type Cell = string | { text: string; style: Style };

const DEFAULT_WATCH_INTERVAL = '2s';

function ago(then: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function table(rows: Cell[][], colour: boolean): string[] {
  const plain = (cell: Cell | undefined) =>
    cell === undefined ? '' : typeof cell === 'string' ? cell : cell.text;
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => plain(row[column]).length))) ?? [];
  return rows.map((row, index) => {
    const cells = row.map((cell, column) => {
      const padded = plain(cell).padEnd(widths[column] ?? 0);
      if (!colour) return padded;
      if (index === 0) return styleText('bold', padded);
      return typeof cell === 'string' ? padded : styleText(cell.style, padded);
    });
    return `  ${cells.join('  ')}`.trimEnd();
  });
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

export interface FormatStatusOptions {
  /** ANSI colours (a terminal without NO_COLOR). */
  colour?: boolean;
  /** Backlog jobs per lane of each model (guild id, `dm`, `cli`), listed under the queues. */
  lanes?: Map<string, LaneCounts>;
}

export function formatStatus(
  status: JobSystemStatus,
  { colour = false, lanes }: FormatStatusOptions = {},
): string {
  const { at } = status;
  const paint = (text: string, style: Style) => (colour ? styleText(style, text) : text);
  const lines = [paint(`Workers (${status.workers.length}):`, 'bold')];
  if (status.workers.length === 0) lines.push(paint('  none online', 'yellow'));
  else {
    lines.push(
      ...table(
        [
          ['ID', 'MODELS', 'PROVIDER', 'BUSY/FREE', 'JOBS/MIN', 'IMAGES/MIN', 'STEPS/S', 'SEEN'],
          ...status.workers.map((worker): Cell[] => [
            worker.workerId,
            {
              text: describeModels(worker),
              style: worker.models.some((m) => !m.safetyChecker && !worker.simulated) ? 'red' : 'cyan',
            },
            worker.simulated ? `${worker.provider} (simulated)` : worker.provider,
            {
              text: `${worker.slots.total - worker.slots.free}/${worker.slots.free}`,
              style: worker.slots.free > 0 ? 'green' : 'yellow',
            },
            worker.throughput.jobsPerMinute.toFixed(1),
            worker.throughput.imagesPerMinute?.toFixed(1) ?? '-',
            worker.throughput.stepsPerSecond.toFixed(1),
            { text: `${ago(worker.at, at)} ago`, style: 'dim' },
          ]),
        ],
        colour,
      ),
    );
  }
  lines.push('', paint('Queues:', 'bold'));
  if (status.queues.length === 0) lines.push('  no models');
  else {
    lines.push(
      ...table(
        [
          ['MODEL', 'QUEUED', 'BACKLOG/LANES', 'RUNNING', 'WORKERS', 'OLDEST WAITING'],
          ...status.queues.map((queue): Cell[] => [
            { text: queue.model, style: 'cyan' },
            {
              text: String(queue.queued),
              style: queue.queued === 0 ? 'dim' : queue.workers === 0 ? 'red' : 'yellow',
            },
            `${queue.backlog}/${queue.lanes}`,
            String(queue.running),
            { text: String(queue.workers), style: queue.workers === 0 ? 'red' : 'green' },
            queue.oldestQueuedAt === null ? '-' : ago(queue.oldestQueuedAt, at),
          ]),
        ],
        colour,
      ),
    );
    for (const [model, counts] of [...(lanes ?? new Map<string, LaneCounts>())].sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      if (counts.size === 0) continue;
      const described = [...counts]
        .sort(([, a], [, b]) => b - a)
        .map(([lane, count]) => `${lane === 'dm' || lane === 'cli' ? lane : `guild ${lane}`}: ${count}`);
      lines.push(`  ${paint(`${model} backlog by lane:`, 'dim')} ${described.join(', ')}`);
    }
  }
  lines.push(
    '',
    paint(`Dead letters: ${status.deadLetters.count}`, status.deadLetters.count > 0 ? 'red' : 'bold'),
  );
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
  usage: '--nats URL [--dead N] [--json] [--watch [--interval DURATION]]',
  options: {
    nats: natsUrlOption,
    dead: { type: 'string', valueName: 'N', description: 'How many recent dead letters to show (default 5)' },
    json: { type: 'boolean', description: 'Print JSON (with --watch: one object per line)' },
    watch: { type: 'boolean', short: 'w', description: 'Refresh until Ctrl-C' },
    interval: {
      type: 'string',
      valueName: 'DURATION',
      description: `How often --watch refreshes (default ${DEFAULT_WATCH_INTERVAL})`,
    },
  },
  details: 'On a terminal the tables are coloured (NO_COLOR turns that off); --json is the same everywhere.',
  async run({ options, env, stdout, signal }) {
    const recentDeadLetterCount = numberOption(options, 'dead', integerIn({ min: 0, max: 100 })) ?? 5;
    const intervalText = stringOption(options, 'interval') ?? DEFAULT_WATCH_INTERVAL;
    const intervalMs = parseDuration(intervalText);
    if (intervalMs === undefined || intervalMs < 200) {
      throw new UsageError(
        `--interval must be a duration of at least 200ms, such as 2s (got "${intervalText}")`,
      );
    }
    const watch = options.watch === true;
    const json = options.json === true;
    const colour = !json && useColour(stdout, env);
    const config = configWithNats(options, env);
    const connection = await connectAsClient(config, 'sdbot-status');
    try {
      const jsm = await jetstreamManager(connection).catch((error: unknown) => {
        throw natsFailure(error, 'opening JetStream');
      });
      const registry = await WorkerRegistry.open(jetstream(connection));
      const render = async () => {
        const status = await collectStatus(jsm, registry, { recentDeadLetterCount });
        if (json) return watch ? `${JSON.stringify(status)}\n` : `${JSON.stringify(status, null, 2)}\n`;
        return formatStatus(status, { colour, lanes: await laneCounts(jsm) });
      };
      if (!watch) {
        stdout.write(await render());
        return 0;
      }
      const terminal = (stdout as { isTTY?: boolean }).isTTY === true;
      while (!signal.aborted) {
        const text = await render();
        if (terminal && !json) {
          // Redraw in place: home, the new text, then clear whatever the last frame left below.
          const stamp = `sdbot status  ${new Date().toISOString().slice(11, 19)}  every ${intervalText}, Ctrl-C to stop`;
          stdout.write(`\x1b[H\x1b[2J${colour ? styleText('dim', stamp) : stamp}\n\n${text}`);
        } else stdout.write(json ? text : `${text}\n`);
        await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
      }
    } finally {
      await connection.close();
    }
    return 0;
  },
};

async function laneCounts(jsm: JetStreamManager): Promise<Map<string, LaneCounts>> {
  return backlogLanes(jsm).catch(() => new Map<string, LaneCounts>());
}
