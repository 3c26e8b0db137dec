import { randomInt } from 'node:crypto';
import { constants } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import {
  createLogger,
  DEFAULT_PROMPT_SYNTAX,
  GENERATION_FIELDS,
  LIMITS,
  loadConfig,
  numberOption,
  schemaOption,
  promptCutNotice,
  seedVariationSchema,
  stringOption,
  unsupportedPromptNotice,
  UsageError,
  valueFlag,
  ValidationError,
  type CommandDefinition,
  type ParsedOptions,
} from '@sdbot/shared';
import { WATERMARK_FLAG } from './flags.js';
import type { ModelDirectoryInfo } from '../diffusion/model.js';
import { StableDiffusionPipeline, type PipelineImage } from '../diffusion/pipeline.js';
import { validateRequest, type PipelineRequest } from '../diffusion/request.js';
import { checkImagePixels } from '../image-io.js';
import { encodePng, formatParameters } from '../provenance.js';
import { filteredPlaceholder } from '../safety/placeholder.js';
import { embedWatermark } from '../watermark/index.js';
import { sessionSettingsFrom } from '../diffusion/backend/config-settings.js';

const DEFAULT_SIZE = 512;
/** The reference img2img pipeline's default strength. */
const DEFAULT_STRENGTH = 0.8;

/** FILE.png for one image; FILE-0.png, FILE-1.png... for several. */
export function outputPaths(out: string, count: number): string[] {
  if (count === 1) return [out];
  const extension = extname(out);
  const stem = out.slice(0, out.length - extension.length);
  return Array.from({ length: count }, (_, index) => `${stem}-${index}${extension}`);
}

/** `--out`'s directory must exist and be writable before anything is generated. */
async function checkWritableDirectory(out: string): Promise<void> {
  const directory = dirname(resolve(out));
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(directory)).isDirectory();
  } catch {
    throw new ValidationError([{ field: '--out', message: `directory ${directory} does not exist` }]);
  }
  if (!isDirectory) {
    throw new ValidationError([{ field: '--out', message: `${directory} is not a directory` }]);
  }
  try {
    await access(directory, constants.W_OK);
  } catch {
    throw new ValidationError([{ field: '--out', message: `directory ${directory} is not writable` }]);
  }
}

function buildRequest(
  options: ParsedOptions,
  defaults: ReturnType<typeof loadConfig>['limits'],
): PipelineRequest {
  const fields = GENERATION_FIELDS;
  const init = stringOption(options, 'init');
  const strength = numberOption(options, 'strength', fields.strength.unwrap());
  if (strength !== undefined && init === undefined) throw new UsageError('--strength needs --init IMAGE');
  const variationSeed = numberOption(options, 'variation-seed', seedVariationSchema.shape.seed);
  const variationStrength = numberOption(options, 'variation-strength', seedVariationSchema.shape.strength);
  if ((variationSeed === undefined) !== (variationStrength === undefined)) {
    throw new UsageError('--variation-seed and --variation-strength go together');
  }
  const width = numberOption(options, 'width', fields.width);
  const height = numberOption(options, 'height', fields.height);
  const scheduler = schemaOption(options, 'scheduler', fields.scheduler);
  const rng = schemaOption(options, 'rng', fields.rng.unwrap());
  const negative = stringOption(options, 'negative');
  return {
    prompt: stringOption(options, 'prompt', { required: true }) ?? '',
    ...(negative === undefined ? {} : { negativePrompt: negative }),
    syntax: schemaOption(options, 'syntax', fields.syntax.unwrap()) ?? DEFAULT_PROMPT_SYNTAX,
    seed: numberOption(options, 'seed', fields.seed) ?? randomInt(0, 2 ** 32),
    steps: numberOption(options, 'steps', fields.steps) ?? defaults.defaultSteps,
    guidance: numberOption(options, 'guidance', fields.guidance) ?? defaults.defaultGuidance,
    // Without --init the size defaults to SD 1.x's native 512; with it, to the image's own size.
    ...(width !== undefined || init === undefined ? { width: width ?? DEFAULT_SIZE } : {}),
    ...(height !== undefined || init === undefined ? { height: height ?? DEFAULT_SIZE } : {}),
    scheduler: scheduler ?? defaults.defaultScheduler,
    ...(rng === undefined ? {} : { rng }),
    count: numberOption(options, 'count', fields.count) ?? 1,
    ...(init === undefined ? {} : { init: { image: init, strength: strength ?? DEFAULT_STRENGTH } }),
    ...(variationSeed === undefined || variationStrength === undefined
      ? {}
      : { variation: { seed: variationSeed, strength: variationStrength } }),
  };
}

interface SavedImage {
  file: string;
  seed: number;
  nsfw: boolean;
  watermarked: boolean;
  /** Why a clean image was left without a watermark. */
  unwatermarkedReason?: string;
  width: number;
  height: number;
}

interface SaveSettings {
  /** Payload to embed, or undefined for no watermark. */
  watermarkText: string | undefined;
  request: PipelineRequest;
  model: ModelDirectoryInfo;
}

/**
 * Writes one image as the worker would deliver it: the placeholder instead of a flagged image,
 * otherwise watermarked (unless off) and encoded with its generation parameters (A1111 infotext).
 */
async function saveImage(
  image: PipelineImage,
  file: string,
  { watermarkText, request, model }: SaveSettings,
  stages: { watermark: number; encode: number },
): Promise<SavedImage> {
  const { width, height, seed, nsfw } = image;
  const saved: SavedImage = { file, seed, nsfw, watermarked: false, width, height };
  let started = performance.now();
  if (nsfw) {
    await writeFile(file, await filteredPlaceholder(width, height));
    stages.encode += performance.now() - started;
    return saved;
  }
  let pixels = image.pixels;
  if (watermarkText !== undefined) {
    const embedded = embedWatermark(pixels, width, height, watermarkText);
    pixels = embedded.rgb;
    saved.watermarked = embedded.watermarked;
    if (embedded.reason !== undefined) saved.unwatermarkedReason = embedded.reason;
    stages.watermark += performance.now() - started;
    started = performance.now();
  }
  const parameters = formatParameters({
    ...request,
    seed,
    width,
    height,
    modelHash: model.hash,
    model: model.name,
    extra: {
      ...(request.init === undefined ? {} : { 'Denoising strength': request.init.strength }),
      ...(request.variation === undefined
        ? {}
        : {
            'Variation seed': request.variation.seed,
            'Variation seed strength': request.variation.strength,
          }),
      ...(request.rng === 'torch' ? { RNG: 'CPU' } : {}),
    },
  });
  await writeFile(file, await encodePng(pixels, width, height, parameters));
  stages.encode += performance.now() - started;
  return saved;
}

/** What the model did not read of the prompts, and the A1111 constructs it read as text. */
function promptNotes(
  request: PipelineRequest,
  result: { truncatedTokens: number; negativeTruncatedTokens: number; promptChunkLimit: number | undefined },
): string[] {
  const syntax = request.syntax ?? DEFAULT_PROMPT_SYNTAX;
  const notes: string[] = [];
  const unsupported = unsupportedPromptNotice(request.prompt, syntax);
  if (unsupported !== undefined) notes.push(unsupported);
  if (result.truncatedTokens > 0) {
    notes.push(promptCutNotice('prompt', result.truncatedTokens, syntax, result.promptChunkLimit));
  }
  if (result.negativeTruncatedTokens > 0) {
    notes.push(
      promptCutNotice('negative prompt', result.negativeTruncatedTokens, syntax, result.promptChunkLimit),
    );
  }
  return notes;
}

function describeSaved(image: SavedImage): string {
  const notes = [
    ...(image.nsfw ? ['flagged by the safety checker: replaced by the placeholder'] : []),
    ...(image.unwatermarkedReason === undefined ? [] : [`not watermarked: ${image.unwatermarkedReason}`]),
  ];
  const suffix = notes.length === 0 ? '' : ` (${notes.join('; ')})`;
  return `wrote ${image.file} (${image.width}x${image.height}, seed ${image.seed})${suffix}\n`;
}

export const generateCommand: CommandDefinition = {
  name: 'generate',
  summary: 'Generate images on this machine with a local model directory (no NATS, no Discord)',
  usage: '--model DIR --prompt TEXT --out FILE.png [options]',
  options: {
    model: valueFlag('DIR', 'Model directory (diffusers ONNX export layout)'),
    prompt: valueFlag('TEXT', 'What to draw ("" for unconditional)'),
    negative: valueFlag('TEXT', 'What to steer away from (default "")'),
    syntax: valueFlag(
      'a1111|plain',
      `How prompts are read (default ${DEFAULT_PROMPT_SYNTAX}): A1111 weights, BREAK and 3 chunks, or plain text cut at 77 tokens`,
    ),
    seed: valueFlag('N', 'Seed of image 0; image i uses N+i (default: random)'),
    steps: valueFlag('N', 'Denoising steps (default SDBOT_DEFAULT_STEPS)'),
    guidance: valueFlag('F', 'Guidance scale; <= 1 turns guidance off (default SDBOT_DEFAULT_GUIDANCE)'),
    width: valueFlag('N', `Width, a multiple of ${LIMITS.sizeMultiple} (default ${DEFAULT_SIZE})`),
    height: valueFlag('N', `Height, a multiple of ${LIMITS.sizeMultiple} (default ${DEFAULT_SIZE})`),
    scheduler: valueFlag('NAME', 'Scheduler (default SDBOT_DEFAULT_SCHEDULER)'),
    rng: valueFlag('numpy|torch', 'Noise generator to match (default numpy)'),
    count: valueFlag('N', 'Images in one batch, 1..4 (default 1)'),
    init: valueFlag('IMAGE', 'img2img: start from this image'),
    strength: valueFlag('F', `img2img: 0 keeps the image, 1 ignores it (default ${DEFAULT_STRENGTH})`),
    'variation-seed': valueFlag('N', 'Blend in the noise of this second seed'),
    'variation-strength': valueFlag('F', 'How much of the second seed, 0..1'),
    safety: {
      type: 'boolean',
      description: 'Run the safety checker (default SDBOT_SAFETY_CHECKER); --no-safety skips it',
    },
    watermark: WATERMARK_FLAG,
    out: valueFlag('FILE.png', 'Where to write; several images get -0, -1...'),
    json: {
      type: 'boolean',
      description: 'Print seeds, files, nsfw and watermark flags and timings as JSON',
    },
  },
  details:
    'Provider, threads and graph optimization come from SDBOT_EXECUTION_PROVIDER, SDBOT_THREADS and\n' +
    'SDBOT_GRAPH_OPTIMIZATION. Ctrl-C stops between two steps.',
  async run({ options, env, stdout, stderr, signal }) {
    const config = loadConfig({ env });
    const modelDirectory = stringOption(options, 'model', { required: true }) ?? '';
    const out = stringOption(options, 'out', { required: true }) ?? '';
    if (extname(out).toLowerCase() !== '.png')
      throw new UsageError(`--out must name a .png file (got ${out})`);
    const request = buildRequest(options, config.limits);
    // Everything that can be refused is refused before the models load: loading takes seconds
    // to minutes, and a bad request must not get that far (nor a path the images cannot go to).
    validateRequest(request, config.limits.maxPixels);
    if (request.init !== undefined && typeof request.init.image === 'string') {
      await checkImagePixels(request.init.image, {
        label: `--init ${request.init.image}`,
        maxPixels: config.limits.maxInputPixels,
      });
    }
    await checkWritableDirectory(out);
    const safety = options.safety !== false && config.worker.safetyChecker;
    // Provider fallbacks are worth seeing; the info lines a worker logs are noise here unless asked for.
    const logger = createLogger({
      name: 'cli',
      level: env.LOG_LEVEL === undefined ? 'warn' : config.log.level,
    });

    const pipeline = await StableDiffusionPipeline.load(modelDirectory, {
      ...sessionSettingsFrom(config),
      safetyChecker: safety,
      maxPixels: config.limits.maxPixels,
      unetMaxRows: config.worker.unetMaxRows,
      logger,
    });
    try {
      const interactive = 'isTTY' in stderr && stderr.isTTY === true && options.json !== true;
      const result = await pipeline.generate(request, {
        signal,
        ...(interactive
          ? {
              onStep: (step: number, total: number) => {
                stderr.write(`\rstep ${step}/${total}${step === total ? '\n' : ''}`);
              },
            }
          : {}),
      });
      const files = outputPaths(out, result.images.length);
      const settings: SaveSettings = {
        watermarkText:
          options.watermark !== false && config.worker.watermark ? config.worker.watermarkText : undefined,
        request,
        model: pipeline.info,
      };
      const stages = { watermark: 0, encode: 0 };
      const images: SavedImage[] = [];
      for (const [index, image] of result.images.entries()) {
        images.push(await saveImage(image, files[index] ?? out, settings, stages));
      }
      if (options.json === true) {
        const report = {
          model: pipeline.info,
          seeds: images.map((image) => image.seed),
          images,
          syntax: request.syntax,
          truncatedTokens: result.truncatedTokens,
          negativeTruncatedTokens: result.negativeTruncatedTokens,
          timings: { ...result.timings, stages: { ...result.timings.stages, ...stages } },
          unetCalls: result.unetCalls,
          unetRowsPerRun: result.unetRowsPerRun,
        };
        stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        for (const image of images) stdout.write(describeSaved(image));
        for (const line of promptNotes(request, result)) stdout.write(`${line}\n`);
        stdout.write(`done in ${(result.timings.totalMs / 1000).toFixed(2)} s\n`);
      }
      return 0;
    } finally {
      await pipeline.release();
    }
  },
};
