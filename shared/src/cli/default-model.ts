/**
 * The model `sdbot up` serves when none is configured: Stable Diffusion 1.5 as an ONNX export,
 * fp32 for CPU workers (onnxruntime's CPU kernels are float32) and fp16 on a GPU provider (half the
 * memory and download). It is fetched once into the user's cache by the `models download` command
 * (through the command manifest: `shared` never imports the worker), asking first on a terminal.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import type { Config } from '../config.js';
import { SdbotError, toSdbotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CommandIO } from './command.js';
import { discoverCommands } from './main.js';
import { LOG_EVENTS } from '../log-events.js';

export interface DefaultModel {
  repo: string;
  precision: 'fp32' | 'fp16';
  /** The hub's listing of the export's files, rounded (the download prints the exact figure). */
  approximateSize: string;
  /** Folder under ~/.cache/sdbot/models (`models download`'s default for this repository). */
  folder: string;
}

export const DEFAULT_MODELS = {
  cpu: {
    repo: 'onnx-community/stable-diffusion-v1-5-ONNX',
    precision: 'fp32',
    approximateSize: '5.5 GB',
    folder: 'stable-diffusion-v1-5-ONNX',
  },
  gpu: {
    repo: 'TensorStack/stable-diffusion-v1-5-onnx',
    precision: 'fp16',
    approximateSize: '2.7 GB',
    folder: 'stable-diffusion-v1-5-onnx',
  },
} as const satisfies Record<string, DefaultModel>;

/** Written by `models download` when every file is verified; without it a folder is unfinished. */
const DOWNLOAD_MARKER = '.sdbot-download.json';

export function defaultModelFor(provider: Config['worker']['executionProvider']): DefaultModel {
  return provider === 'cpu' ? DEFAULT_MODELS.cpu : DEFAULT_MODELS.gpu;
}

export function defaultModelDirectory(model: DefaultModel, env: NodeJS.ProcessEnv): string {
  const cache = env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache');
  return join(cache, 'sdbot', 'models', model.folder);
}

export interface EnsureDefaultModelOptions extends CommandIO {
  config: Config;
  /** --yes: download without asking. */
  yes: boolean;
  logger: Logger;
}

function isTerminal(stream: unknown): boolean {
  return (stream as { isTTY?: boolean } | undefined)?.isTTY === true;
}

async function askToDownload(question: string, output: NodeJS.WritableStream): Promise<boolean> {
  const reader = createInterface({ input: process.stdin, output });
  try {
    const answer = (await reader.question(question)).trim().toLowerCase();
    return answer === '' || answer === 'y' || answer === 'yes';
  } finally {
    reader.close();
  }
}

const HUB_PROBE_TIMEOUT_MS = 10_000;

/** Why the hub cannot be reached at all (no answer), or undefined when it answers anything. */
async function hubUnreachable(endpoint: string, signal: AbortSignal): Promise<Error | undefined> {
  try {
    const response = await fetch(endpoint, {
      method: 'HEAD',
      redirect: 'manual',
      signal: AbortSignal.any([signal, AbortSignal.timeout(HUB_PROBE_TIMEOUT_MS)]),
    });
    await response.body?.cancel();
    return undefined;
  } catch (error) {
    if (signal.aborted) throw error;
    const cause = error instanceof Error ? error.cause : undefined;
    const code = (cause as { code?: unknown } | undefined)?.code;
    const detail = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
    return new Error(`no answer from ${endpoint}: ${detail}`);
  }
}

function offlineFailure(
  model: DefaultModel,
  directory: string,
  endpoint: string,
  cause: unknown,
): SdbotError {
  const reason =
    cause instanceof Error && !(cause instanceof SdbotError) ? cause.message : toSdbotError(cause).message;
  return new SdbotError(
    'DOWNLOAD_FAILED',
    `could not download the default model ${model.repo} from ${endpoint} (${reason}). ` +
      'Without a network connection, try sdbot with simulated workers: `npx sdbot up --simulate 50 --model demo`; ' +
      `or fetch the model where you have one with \`npx sdbot models download ${model.repo} --dir ${directory}\`, ` +
      'copy the folder here and run `npx sdbot up --model DIR`. Running `npx sdbot up` again resumes the download.',
    { cause },
  );
}

/**
 * Returns the default model's directory, downloading it first when it is not complete. On a
 * terminal the user is asked; elsewhere `--yes` is required, so a service never starts a
 * multi-gigabyte download by surprise.
 */
export async function ensureDefaultModel(options: EnsureDefaultModelOptions): Promise<string> {
  const { config, env, stderr, signal, yes } = options;
  const model = defaultModelFor(config.worker.executionProvider);
  const directory = defaultModelDirectory(model, env);
  if (existsSync(join(directory, DOWNLOAD_MARKER))) return directory;

  const resuming = existsSync(directory) ? ' (a previous download is resumed)' : '';
  const provider = config.worker.executionProvider;
  stderr.write(
    `No model is configured (--model DIR or SDBOT_MODELS). The default is Stable Diffusion 1.5, ` +
      `the ${model.precision} ONNX export ${model.repo} (${model.precision === 'fp32' ? 'for CPU workers' : `for the ${provider} provider`}), ` +
      `about ${model.approximateSize}, into ${directory}${resuming}.\n`,
  );
  if (!yes) {
    if (!isTerminal(process.stdin) || !isTerminal(stderr)) {
      throw new SdbotError(
        'CONFIG_INVALID',
        `not downloading ${model.repo} without confirmation: run \`npx sdbot up --yes\` to download it, ` +
          'pass --model DIR for a model you have, or --simulate MS to run without one',
      );
    }
    if (!(await askToDownload('Download it now? [Y/n] ', stderr))) {
      throw new SdbotError(
        'CONFIG_INVALID',
        'no model: pass --model DIR, fetch one with `npx sdbot models download REPO`, or run --simulate MS',
      );
    }
  }

  // Offline fails at once, in one paragraph, instead of after the download's retries.
  const endpoint = config.models.hfEndpoint;
  const unreachable = await hubUnreachable(endpoint, signal);
  if (unreachable !== undefined) throw offlineFailure(model, directory, endpoint, unreachable);

  const models = (await discoverCommands()).find((command) => command.name === 'models');
  if (models === undefined) {
    throw new SdbotError(
      'INTERNAL',
      'this build has no `sdbot models` command to download the default model',
    );
  }
  const command = await models.load();
  // The download's own summary ("serve it with ...") is for `models download` users; `up` serves it.
  const quiet = new Writable({
    write: (_chunk, _encoding, done) => {
      done();
    },
  });
  try {
    await command.run({
      stdout: quiet,
      stderr,
      env,
      signal,
      positionals: ['download', model.repo],
      options: { dir: directory },
    });
  } catch (error) {
    const failure = toSdbotError(error);
    if (signal.aborted || failure.code !== 'DOWNLOAD_FAILED') throw error;
    throw offlineFailure(model, directory, endpoint, error);
  }
  options.logger.info({ repo: model.repo, dir: directory }, LOG_EVENTS.model.downloaded);
  return directory;
}
