import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createLogger,
  loadConfig,
  SdbotError,
  stringOption,
  UsageError,
  ValidationError,
  type CommandContext,
  type CommandDefinition,
} from '@sdbot/shared';
import { DEFAULT_CONCURRENCY, downloadModel } from '../models/download.js';
import { DownloadProgress } from '../models/progress.js';
import { formatBytes } from '../models/units.js';
import { verifyModelDirectory, type PartReport, type VerifyReport } from '../models/verify.js';
import { sessionSettingsFrom } from '../diffusion/backend/config-settings.js';
import { formatMiB } from '../diffusion/peak-rss.js';

const SUBCOMMANDS = ['download', 'verify'] as const;
const MAX_CONCURRENCY = 16;
/** `owner/name` (or a legacy bare name), as the hub spells repository ids. */
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

export const modelsCommand: CommandDefinition = {
  name: 'models',
  summary: 'Download a Stable Diffusion ONNX export from the Hugging Face hub, or verify a model directory',
  usage:
    'download REPO [--revision REV] [--subfolder PATH] [--file PATH] [--dir DIR] [--concurrency N]\n' +
    '       sdbot models verify DIR [--json]',
  allowPositionals: true,
  options: {
    revision: {
      type: 'string',
      valueName: 'REV',
      description: 'Branch, tag or commit id that holds the ONNX export (default main)',
    },
    subfolder: {
      type: 'string',
      valueName: 'PATH',
      description: 'Folder of the repository with the export, when it holds several',
    },
    file: {
      type: 'string',
      valueName: 'PATH',
      description: 'Upscaler repositories: the .onnx file to fetch, when there are several',
    },
    dir: {
      type: 'string',
      valueName: 'DIR',
      description: 'Model directory to fill (default ~/.cache/sdbot/models/<name>)',
    },
    concurrency: {
      type: 'string',
      valueName: 'N',
      description: `Files fetched at once, 1..${MAX_CONCURRENCY} (default ${DEFAULT_CONCURRENCY})`,
    },
    json: { type: 'boolean', description: 'verify: print the report as JSON' },
  },
  details: [
    'Fetches model_index.json and the pipeline folders (text_encoder, unet, vae_encoder, vae_decoder,',
    'safety_checker, tokenizer, scheduler, feature_extractor) of the ONNX export, skipping other formats,',
    'images and model cards. Every file is checked against the hub (size, sha256 or git sha1) before',
    'it is put in place; .sdbot-download.json is written last. Run the same command again to resume an',
    'interrupted download. HF_TOKEN authenticates (gated or private repositories); HF_ENDPOINT picks a',
    'mirror.',
    'A repository with .onnx files but no diffusers export is a super-resolution model: its one .onnx',
    'file (or the one --file names) is fetched into DIR for `sdbot worker --upscaler DIR`.',
    '',
    'verify opens every part of a model directory, checks its inputs and outputs against what the',
    'pipeline expects, runs a one-step generation at the smallest size and prints a table; it exits',
    'non-zero naming the part or file at fault.',
  ].join('\n'),
  async run(context) {
    const [subcommand, repo, ...extra] = context.positionals;
    if (subcommand === undefined) {
      throw new UsageError(`a subcommand is required: sdbot models ${SUBCOMMANDS.join('|')} ...`);
    }
    if (subcommand === 'verify') {
      if (repo === undefined) throw new UsageError('verify needs a model directory: sdbot models verify DIR');
      if (extra[0] !== undefined) throw new UsageError(`unexpected argument "${extra[0]}"`);
      return verify(context, repo);
    }
    if (subcommand !== 'download') {
      throw new UsageError(
        `unknown subcommand "${subcommand}"; models subcommands: ${SUBCOMMANDS.join(', ')}`,
      );
    }
    if (repo === undefined) {
      throw new UsageError(
        'download needs a repository id, e.g. sdbot models download onnx-community/stable-diffusion-v1-5-ONNX',
      );
    }
    if (extra[0] !== undefined) throw new UsageError(`unexpected argument "${extra[0]}"`);
    return download(context, repo);
  },
};

async function download(context: CommandContext, repo: string): Promise<number> {
  const { options, env, stdout, stderr, signal } = context;
  if (!REPO_ID.test(repo) || repo.includes('..')) {
    throw new ValidationError([
      { field: 'REPO', message: `"${repo}" is not a hub repository id (owner/name)` },
    ]);
  }
  const revision = stringOption(options, 'revision');
  const subfolder = stringOption(options, 'subfolder');
  const file = stringOption(options, 'file');
  const concurrency = parseConcurrency(stringOption(options, 'concurrency'));
  const config = loadConfig({ env });
  const dir = resolve(stringOption(options, 'dir') ?? defaultDirectory(env, repo, revision, subfolder));

  const progress = new DownloadProgress({
    stream: stderr,
    interactive: (stderr as { isTTY?: boolean }).isTTY === true,
  });
  let result;
  try {
    result = await downloadModel({
      repo,
      revision,
      subfolder,
      file,
      dir,
      endpoint: config.models.hfEndpoint,
      token: config.models.hfToken,
      concurrency,
      signal,
      onEvent: progress.handle,
    });
  } finally {
    progress.finish();
  }

  const totalBytes = result.files.reduce((sum, file) => sum + file.size, 0);
  const fetchedBytes = result.fetched.reduce((sum, file) => sum + file.size, 0);
  const where = `${repo}@${result.revision} (commit ${result.commit.slice(0, 12)})`;
  const lines = [
    result.alreadyComplete
      ? `${dir} already holds ${where}: ${result.files.length} files, ${formatBytes(totalBytes)}; nothing to fetch`
      : `downloaded ${where} into ${dir}: ${result.files.length} files, ${formatBytes(totalBytes)} ` +
        `(${result.fetched.length} fetched, ${formatBytes(fetchedBytes)}; ` +
        `${result.files.length - result.fetched.length} already present)`,
    result.upscaler ? `serve it with: SDBOT_UPSCALERS=${dir}` : `serve it with: SDBOT_MODELS=${dir}`,
  ];
  if (!result.upscaler && !result.files.some((entry) => entry.path.startsWith('safety_checker/'))) {
    lines.push('this export has no safety_checker/: a worker refuses it unless SDBOT_SAFETY_CHECKER=false');
  }
  stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function verify({ options, env, stdout }: CommandContext, directory: string): Promise<number> {
  const config = loadConfig({ env });
  const report = await verifyModelDirectory(directory, {
    ...sessionSettingsFrom(config),
    logger: createLogger({ name: 'cli', level: env.LOG_LEVEL === undefined ? 'warn' : config.log.level }),
  });
  stdout.write(options.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report));
  if (report.problems.length > 0) {
    const [first, ...others] = report.problems;
    const more =
      others.length === 0 ? '' : ` (and ${others.length} more problem${others.length === 1 ? '' : 's'})`;
    throw new SdbotError('MODEL_INVALID', `${report.directory} failed verification: ${first ?? ''}${more}`);
  }
  return 0;
}

function formatPorts(direction: string, ports: PartReport['inputs']): string[] {
  return (ports ?? []).map(
    (port) => `    ${direction} ${port.name}: ${port.dtype} [${port.shape.join(', ')}]`,
  );
}

function table(rows: string[][]): string[] {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

function formatVerifyReport(report: VerifyReport): string {
  const lines = [report.directory, `  ${report.download.detail}`, ''];
  for (const part of report.parts) {
    if (part.file === undefined || part.inputs === undefined) continue;
    lines.push(`${part.part}: ${part.file} (${formatBytes(part.bytes ?? 0)}), ${part.detail}`);
    lines.push(...formatPorts('in ', part.inputs), ...formatPorts('out', part.outputs));
  }
  lines.push(
    '',
    ...table([
      ['PART', 'STATUS', 'DETAIL', 'TIME', 'PEAK RSS'],
      ...report.parts.map((part) => [
        part.part,
        part.status.toUpperCase(),
        part.detail,
        part.status === 'skipped' ? '-' : `${(part.ms / 1000).toFixed(2)} s`,
        part.peakRssBytes === undefined ? '-' : formatMiB(part.peakRssBytes),
      ]),
    ]),
    '',
    report.problems.length === 0 ? 'all checks passed' : `${report.problems.length} problem(s):`,
    ...report.problems.map((problem) => `  ${problem}`),
  );
  return `${lines.join('\n')}\n`;
}

function parseConcurrency(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < 1 || value > MAX_CONCURRENCY) {
    throw new ValidationError([
      { field: '--concurrency', message: `must be an integer in 1..${MAX_CONCURRENCY} (got "${raw}")` },
    ]);
  }
  return value;
}

/**
 * Outside the working tree (the repository's top level is reserved): the user's cache, one
 * folder per repository and revision, named like a model id (`stable-diffusion-v1-4-onnx`).
 */
function defaultDirectory(
  env: NodeJS.ProcessEnv,
  repo: string,
  revision: string | undefined,
  subfolder: string | undefined,
): string {
  const cache = env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache');
  const parts = [repo.split('/').at(-1) ?? repo];
  if (revision !== undefined && revision !== 'main') parts.push(revision);
  if (subfolder !== undefined) parts.push(subfolder);
  const name = parts
    .join('-')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return join(cache, 'sdbot', 'models', name);
}
