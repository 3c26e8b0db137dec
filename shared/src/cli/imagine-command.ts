import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { parseDuration } from '../config.js';
import { SdbotError, ValidationError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { ConfiguredJobDefaults } from '../jobs/defaults.js';
import { completeJob, randomSeed, type JobDraftInput } from '../jobs/draft.js';
import { JobsClient, newJobId } from '../nats/jobs-client.js';
import { withNatsRetry } from '../nats/retry.js';
import { PROTOCOL_VERSION, type ObjectRef } from '../protocol/common.js';
import { numberIn, oneOf } from '../protocol/fields.js';
import { GENERATION_FIELDS, NOISE_SOURCES, SCHEDULER_NAMES } from '../protocol/job.js';
import type { JobResult } from '../protocol/outcome.js';
import {
  DEFAULT_PROMPT_SYNTAX,
  PROMPT_SYNTAXES,
  promptCutNotice,
  unsupportedPromptNotice,
  type PromptSyntax,
} from '../prompt-syntax.js';
import {
  UsageError,
  numberOption,
  stringOption,
  valueFlag,
  type CommandDefinition,
  type ParsedOptions,
} from './command.js';
import { ImagineBar, stepsToRun } from './imagine-progress.js';
import { configWithNats, connectAsClient, natsUrlOption } from './nats-cli.js';

const DEFAULT_TIMEOUT = '10m';
/** How long `imagine` waits for an unreachable server before giving up. */
const CONNECT_WINDOW_MS = 15_000;
/** How often a terminal's bar re-reads the queue position while the job waits. */
const QUEUE_REFRESH_MS = 1000;

function isTerminal(stream: unknown): boolean {
  return (stream as { isTTY?: boolean } | undefined)?.isTTY === true;
}

/** Where previews go: beside the output, `FILE-preview.png`. */
export function previewPath(out: string): string {
  const base = out.toLowerCase().endsWith('.png') ? out.slice(0, -4) : out;
  return `${base}-preview.png`;
}

/** Writes each preview over the last, one at a time; a failed write only costs that preview. */
class PreviewWriter {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: JobsClient,
    private readonly path: string,
    private readonly bar: ImagineBar,
  ) {}

  write(ref: ObjectRef): void {
    this.chain = this.chain
      .then(async () => {
        await writeFile(this.path, await this.client.readImage(ref));
        this.bar.previewWritten(this.path);
      })
      .catch(() => undefined);
  }

  settled(): Promise<void> {
    return this.chain;
  }
}

/** Job fields and the flags that set them, so a validation error names what the user typed. */
const FLAG_OF_FIELD: Record<string, string> = {
  prompt: '--prompt',
  negativePrompt: '--negative',
  syntax: '--syntax',
  scheduler: '--scheduler',
  rng: '--rng',
  model: '--model',
  width: '--width',
  height: '--height',
  strength: '--strength',
};

/** Output paths: FILE for one image, FILE-0.png, FILE-1.png ... for several. */
export function outputPaths(out: string, count: number): string[] {
  if (count === 1) return [out];
  const base = out.toLowerCase().endsWith('.png') ? out.slice(0, -4) : out;
  return Array.from({ length: count }, (_, index) => `${base}-${index}.png`);
}

function cliUser(): string {
  try {
    return userInfo().username.slice(0, 64) || 'cli';
  } catch {
    return 'cli';
  }
}

/** A string flag restricted to `values`; a ValidationError names the flag otherwise. */
function choiceOption<const T extends readonly [string, ...string[]]>(
  options: ParsedOptions,
  name: string,
  values: T,
): T[number] | undefined {
  const value = stringOption(options, name);
  if (value === undefined) return undefined;
  const parsed = oneOf(values).safeParse(value);
  if (!parsed.success) {
    throw new ValidationError([
      { field: `--${name}`, message: `must be one of ${values.join(', ')} (got ${JSON.stringify(value)})` },
    ]);
  }
  return parsed.data;
}

/**
 * The job's parameters: each flag, else the configuration's default. Values are checked with the
 * job's field rules, so an error names the flag as typed.
 */
function buildDraft(
  options: ParsedOptions,
  model: string,
  defaults: ConfiguredJobDefaults,
  source?: ObjectRef,
): JobDraftInput {
  const params: Omit<Extract<JobDraftInput, { kind: 'txt2img' }>, 'kind'> = {
    v: PROTOCOL_VERSION,
    model,
    prompt: stringOption(options, 'prompt', { required: true }) ?? '',
    negativePrompt: stringOption(options, 'negative') ?? '',
    seed: numberOption(options, 'seed', GENERATION_FIELDS.seed) ?? randomSeed(),
    steps: numberOption(options, 'steps', GENERATION_FIELDS.steps) ?? defaults.steps,
    guidance: numberOption(options, 'guidance', GENERATION_FIELDS.guidance) ?? defaults.guidance,
    width: numberOption(options, 'width', GENERATION_FIELDS.width) ?? defaults.width,
    height: numberOption(options, 'height', GENERATION_FIELDS.height) ?? defaults.height,
    count: numberOption(options, 'count', GENERATION_FIELDS.count) ?? 1,
    scheduler: choiceOption(options, 'scheduler', SCHEDULER_NAMES) ?? defaults.scheduler,
    rng: choiceOption(options, 'rng', NOISE_SOURCES) ?? defaults.rng,
    syntax: choiceOption(options, 'syntax', PROMPT_SYNTAXES) ?? DEFAULT_PROMPT_SYNTAX,
  };
  const strength = numberOption(options, 'strength', numberIn(LIMITS.strength));
  if (source !== undefined) {
    return { ...params, kind: 'img2img', source: { image: source }, strength: strength ?? defaults.strength };
  }
  return strength === undefined ? { ...params, kind: 'txt2img' } : { ...params, kind: 'txt2img', strength };
}

function withFlagNames(error: unknown): unknown {
  if (!(error instanceof ValidationError)) return error;
  return new ValidationError(
    error.issues.map((issue) => ({ ...issue, field: FLAG_OF_FIELD[issue.field] ?? issue.field })),
    { code: error.code },
  );
}

export const imagineCommand: CommandDefinition = {
  name: 'imagine',
  summary: 'Generate images through NATS on whichever worker is free, and save them',
  usage:
    '--nats URL --prompt TEXT --out FILE.png [--negative TEXT] [--syntax a1111|plain]\n' +
    '       [--seed N] [--steps N] [--guidance X] [--width N] [--height N] [--scheduler NAME]\n' +
    '       [--rng numpy|torch] [--count N]\n' +
    '       [--init IMAGE --strength X] [--model ID] [--timeout DURATION] [--json]',
  options: {
    nats: natsUrlOption,
    prompt: valueFlag('TEXT', 'What to draw ("" for unconditional)'),
    negative: valueFlag('TEXT', 'What to avoid'),
    syntax: valueFlag(
      'a1111|plain',
      `How prompts are read (default ${DEFAULT_PROMPT_SYNTAX}): A1111 weights, BREAK and 3 chunks, or plain text cut at 77 tokens`,
    ),
    seed: valueFlag('N', 'Seed of the first image (default random)'),
    steps: valueFlag('N', 'Denoising steps (default SDBOT_DEFAULT_STEPS)'),
    guidance: valueFlag('X', 'Guidance scale (default SDBOT_DEFAULT_GUIDANCE)'),
    width: valueFlag('N', `Width in pixels, a multiple of ${LIMITS.sizeMultiple} (default 512)`),
    height: valueFlag('N', `Height in pixels, a multiple of ${LIMITS.sizeMultiple} (default 512)`),
    scheduler: valueFlag('NAME', 'Scheduler (default SDBOT_DEFAULT_SCHEDULER)'),
    rng: valueFlag('SOURCE', 'Noise source: numpy (default) or torch'),
    count: valueFlag('N', 'Images to generate, 1-4 (seeds seed, seed+1, ...)'),
    init: valueFlag('IMAGE', 'Start from this image (img2img; PNG, JPEG or WebP)'),
    strength: valueFlag('X', 'How far to move from --init, 0-1 (default SDBOT_VARIATION_STRENGTH)'),
    model: valueFlag('ID', 'Model id (default SDBOT_DEFAULT_MODEL or the first online)'),
    out: valueFlag('FILE', 'Where to write the PNG (several: FILE-0.png, FILE-1.png ...)'),
    timeout: valueFlag('DURATION', `Give up after this long (default ${DEFAULT_TIMEOUT})`),
    json: { type: 'boolean', description: 'Print the result as JSON' },
  },
  details:
    'Progress goes to stderr: on a terminal one bar (queue position, then step, percent, it/s, ETA;\n' +
    'previews in FILE-preview.png), elsewhere `step N/M` lines. A failed job exits 1 with its error code, e.g. "error [UNKNOWN_MODEL]".\n' +
    'Ctrl-C cancels the job.',
  async run({ options, env, stdout, stderr, signal }) {
    const out = stringOption(options, 'out', { required: true }) ?? '';
    stringOption(options, 'prompt', { required: true });
    const timeoutText = stringOption(options, 'timeout') ?? DEFAULT_TIMEOUT;
    const timeoutMs = parseDuration(timeoutText);
    if (timeoutMs === undefined || timeoutMs <= 0) {
      throw new UsageError(
        `--timeout must be a duration such as 90s or 10m (got ${JSON.stringify(timeoutText)})`,
      );
    }
    const initPath = stringOption(options, 'init');
    const init =
      initPath === undefined
        ? undefined
        : await readFile(initPath).catch((cause: unknown) => {
            throw new SdbotError('IMAGE_INVALID', `--init: cannot read ${initPath}`, { cause });
          });
    const config = configWithNats(options, env);
    // Started while the server restarts, the command waits for it a little instead of failing.
    const connection = await withNatsRetry(
      'connecting to NATS',
      () => connectAsClient(config, 'sdbot-imagine'),
      {
        withinMs: CONNECT_WINDOW_MS,
      },
    );
    try {
      const client = await JobsClient.open(connection, config);
      const model = stringOption(options, 'model') ?? (await client.defaultModel());
      const identity = {
        id: newJobId('cli'),
        requester: { source: 'cli', guildId: null, channelId: null, userId: cliUser() },
        createdAt: Date.now(),
      } as const;
      const defaults = client.defaults;
      let job;
      try {
        // Everything but the source image is checked before anything is uploaded.
        job = client.checkJob(completeJob(buildDraft(options, model, defaults), identity));
        if (init !== undefined) {
          const source = await client.uploadSource(identity.id, init);
          job = client.checkJob(completeJob(buildDraft(options, model, defaults, source), identity));
        }
      } catch (error) {
        throw withFlagNames(error);
      }
      const submitted = job;
      const paths = outputPaths(out, job.kind === 'upscale' ? 1 : job.count);
      const bar =
        isTerminal(stderr) && options.json !== true
          ? new ImagineBar({
              stream: stderr,
              ...(job.kind === 'upscale' ? {} : { scheduler: job.scheduler, steps: stepsToRun(job) }),
            })
          : undefined;
      const previews = bar === undefined ? undefined : new PreviewWriter(client, previewPath(out), bar);
      let lastStep = -1;
      const watch = client.watchProgress(job.id, (progress) => {
        // A preview arrives after its step, in a message of its own; show each step once, in order.
        if (progress.preview !== undefined) previews?.write(progress.preview);
        if (progress.step <= lastStep) return;
        lastStep = progress.step;
        if (bar === undefined) stderr.write(`step ${progress.step}/${progress.total}\n`);
        else bar.step(progress);
      });
      let cancelling: Promise<unknown> | undefined;
      const onAbort = () => {
        cancelling = client.cancel(submitted.id, cliUser()).catch(() => undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // Ends the wait for an outcome whenever this command ends first (a refused submit, a failed
      // read): the wait's timer must neither keep the process alive nor reject unobserved.
      const done = new AbortController();
      const outcome = client.awaitOutcome(job.id, {
        timeoutMs,
        signal: AbortSignal.any([signal, done.signal]),
        submitting: true,
      });
      outcome.catch(() => undefined);
      let positionTimer: NodeJS.Timeout | undefined;
      try {
        await client.submit(job);
        const position = await client.queuePosition(job.id);
        if (bar === undefined) {
          stderr.write(`job ${job.id} queued on ${job.model}`);
          stderr.write(
            position === null ? '\n' : ` (${position.ahead}${position.capped ? '+' : ''} ahead)\n`,
          );
        } else {
          bar.queued(position?.ahead ?? null, position?.capped);
          // The queue moves while the job waits; the bar follows until the first step arrives.
          const refresh = () => {
            positionTimer = setTimeout(() => {
              if (lastStep >= 0) return;
              client.queuePosition(job.id).then(
                (next) => {
                  if (lastStep < 0) bar.queued(next?.ahead ?? null, next?.capped);
                  refresh();
                },
                () => {
                  refresh();
                },
              );
            }, QUEUE_REFRESH_MS);
          };
          refresh();
        }
        const finished = await outcome;
        clearTimeout(positionTimer);
        await previews?.settled();
        bar?.stop();
        if (finished.type === 'failure') throw new SdbotError(finished.code, finished.message);
        await saveImages(client, finished, paths);
        if (options.json === true) {
          stdout.write(`${JSON.stringify(summary(finished, paths), null, 2)}\n`);
        } else {
          for (const [index, image] of finished.images.entries()) {
            stdout.write(
              `${paths[index] ?? ''}  seed ${image.seed}${image.nsfw ? '  (filtered: NSFW)' : ''}\n`,
            );
          }
          const notes =
            submitted.kind === 'upscale'
              ? []
              : promptNotes(submitted.prompt, submitted.syntax ?? 'plain', finished);
          for (const line of notes) stdout.write(`${line}\n`);
        }
      } finally {
        done.abort();
        clearTimeout(positionTimer);
        watch.stop();
        await previews?.settled();
        bar?.stop();
        signal.removeEventListener('abort', onAbort);
        await cancelling;
      }
    } finally {
      await connection.drain().catch(() => undefined);
    }
    return 0;
  },
};

/** What the model did not read of the prompts, and the A1111 constructs it read as text. */
function promptNotes(prompt: string, syntax: PromptSyntax, result: JobResult): string[] {
  const notes: string[] = [];
  const unsupported = unsupportedPromptNotice(prompt, syntax);
  if (unsupported !== undefined) notes.push(unsupported);
  const negative = result.negativeTruncatedTokens ?? 0;
  if (result.truncatedTokens > 0) {
    notes.push(promptCutNotice('prompt', result.truncatedTokens, syntax, result.promptChunkLimit));
  }
  if (negative > 0) notes.push(promptCutNotice('negative prompt', negative, syntax, result.promptChunkLimit));
  return notes;
}

async function saveImages(client: JobsClient, result: JobResult, paths: string[]): Promise<void> {
  for (const [index, image] of result.images.entries()) {
    const path = paths[index];
    if (path === undefined) continue;
    await writeFile(path, await client.readImage(image.image));
  }
}

function summary(result: JobResult, paths: string[]) {
  return {
    jobId: result.jobId,
    model: result.model,
    workerId: result.workerId,
    images: result.images.map((image, index) => ({
      file: paths[index],
      seed: image.seed,
      nsfw: image.nsfw,
      watermarked: image.watermarked,
      width: image.width,
      height: image.height,
    })),
    truncatedTokens: result.truncatedTokens,
    negativeTruncatedTokens: result.negativeTruncatedTokens ?? 0,
    timings: result.timings,
  };
}
