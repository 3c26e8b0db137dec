/**
 * The real ImageGenerator: Stable Diffusion pipelines loaded once per model directory. Each image
 * is watermarked (SDBOT_WATERMARK), carries its generation parameters in the PNG, and an image the
 * safety checker flags is replaced by the "filtered" placeholder before it leaves the worker.
 */
import { basename, resolve } from 'node:path';
import { LIMITS, LOG_EVENTS, SdbotError, type Config, type GenerationJob, type Logger } from '@sdbot/shared';
import { StableDiffusionPipeline, type GenerationResult } from '../diffusion/pipeline.js';
import type { PipelineRequest } from '../diffusion/request.js';
import { encodePng, formatParameters } from '../provenance.js';
import { filteredPlaceholder } from '../safety/placeholder.js';
import { embedWatermark } from '../watermark/index.js';
import type {
  GeneratedImage,
  GenerationHooks,
  GenerationOutput,
  GenerationRequest,
  ImageGenerator,
  ModelInfo,
} from './generator.js';
import { sessionSettingsFrom } from '../diffusion/backend/config-settings.js';

/** The id jobs use for a model directory: its name, reduced to a subject token. */
export function modelIdOf(directory: string): string {
  const id = basename(resolve(directory))
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 64);
  if (!LIMITS.idPattern.test(id)) {
    throw new SdbotError('MODEL_INVALID', `cannot derive a model id from the directory name "${directory}"`);
  }
  return id;
}

/**
 * Warms a loaded model up (SDBOT_WARMUP). A model that fails it still serves, as it did before
 * warm-ups existed: an export that cannot run the base size (a fixed input size, a card without
 * the memory for a grid) may run others, and its jobs at that size fail with the same reason.
 */
async function warmUp(pipeline: StableDiffusionPipeline, model: string, logger: Logger): Promise<void> {
  const started = performance.now();
  try {
    const { side, count } = await pipeline.warmUp();
    const ms = Math.round(performance.now() - started);
    logger.info({ model, size: `${side}x${side}`, images: count, ms }, LOG_EVENTS.model.warmed);
  } catch (error) {
    logger.warn({ model, err: error, next: 'serving without it' }, LOG_EVENTS.model.warmUpFailed);
  }
}

interface LoadedModel {
  info: ModelInfo;
  pipeline: StableDiffusionPipeline;
}

/** The pipeline reads the job's generation fields as they are; only the source image is added. */
function pipelineRequest(
  job: GenerationJob,
  sourceImage: Uint8Array | undefined,
  safetyCheck: boolean,
): PipelineRequest {
  const { strength, syntax, ...fields } = job;
  // A job from a producer older than the syntax field meant its prompts literally.
  const params = { ...fields, syntax: syntax ?? 'plain' };
  // A job from an opted-in age-restricted channel gets flagged images back, marked.
  const keepFlagged = job.nsfw === 'allow';
  return sourceImage === undefined
    ? { ...params, safetyCheck, keepFlagged }
    : { ...params, safetyCheck, keepFlagged, init: { image: sourceImage, strength: strength ?? 1 } };
}

export class PipelineGenerator implements ImageGenerator {
  readonly simulated = false;
  readonly models: readonly ModelInfo[];
  private readonly byId: ReadonlyMap<string, LoadedModel>;

  private constructor(
    loaded: readonly LoadedModel[],
    readonly provider: ImageGenerator['provider'],
    private readonly config: Config,
  ) {
    this.models = loaded.map((model) => model.info);
    this.byId = new Map(loaded.map((model) => [model.info.id, model]));
  }

  /** Loads every directory once; fails with MODEL_INVALID naming the directory or file. */
  static async load(
    directories: readonly string[],
    config: Config,
    logger: Logger,
  ): Promise<PipelineGenerator> {
    const loaded: LoadedModel[] = [];
    try {
      for (const directory of directories) {
        const id = modelIdOf(directory);
        if (loaded.some((model) => model.info.id === id)) {
          throw new SdbotError('MODEL_INVALID', `two model directories are both named "${id}"`);
        }
        const pipeline = await StableDiffusionPipeline.load(directory, {
          ...sessionSettingsFrom(config),
          safetyChecker: config.worker.safetyChecker,
          maxPixels: config.limits.maxPixels,
          unetMaxRows: config.worker.unetMaxRows,
          logger,
        });
        const { name, hash, safetyChecker } = pipeline.info;
        loaded.push({ info: { id, name, hash, safetyChecker }, pipeline });
        if (config.worker.warmup) await warmUp(pipeline, id, logger);
      }
    } catch (error) {
      await Promise.all(loaded.map((model) => model.pipeline.release()));
      throw error;
    }
    const provider = loaded[0]?.pipeline.info.provider ?? config.worker.executionProvider;
    return new PipelineGenerator(loaded, provider, config);
  }

  async generate({ job, sourceImage }: GenerationRequest, hooks: GenerationHooks): Promise<GenerationOutput> {
    const model = this.byId.get(job.model);
    if (model === undefined)
      throw new SdbotError('UNKNOWN_MODEL', `model "${job.model}" is not loaded by this worker`);
    const result = await model.pipeline.generate(
      pipelineRequest(job, sourceImage, model.info.safetyChecker),
      {
        signal: hooks.signal,
        onStep: (step, total, latents) => {
          hooks.onStep(step, total, latents.data);
        },
      },
    );
    const finishing = { watermark: 0, encode: 0 };
    const images: GeneratedImage[] = [];
    for (const image of result.images) images.push(await this.finish(job, model.info, image, finishing));
    return {
      images,
      truncatedTokens: result.truncatedTokens,
      negativeTruncatedTokens: result.negativeTruncatedTokens,
      ...(result.promptChunkLimit === undefined ? {} : { promptChunkLimit: result.promptChunkLimit }),
      stages: { ...result.timings.stages, ...finishing },
    };
  }

  /** Watermark, provenance and PNG encoding of one image; the placeholder when it was flagged. */
  private async finish(
    job: GenerationJob,
    model: ModelInfo,
    image: GenerationResult['images'][number],
    timings: { watermark: number; encode: number },
  ): Promise<GeneratedImage> {
    const { width, height, seed } = image;
    if (image.nsfw && job.nsfw !== 'allow') {
      const started = performance.now();
      const png = await filteredPlaceholder(width, height);
      timings.encode += performance.now() - started;
      return { png: new Uint8Array(png), seed, nsfw: true, watermarked: false, width, height };
    }
    let rgb = image.pixels;
    let watermarked = false;
    if (this.config.worker.watermark) {
      const started = performance.now();
      const marked = embedWatermark(rgb, width, height, this.config.worker.watermarkText);
      timings.watermark += performance.now() - started;
      rgb = marked.rgb;
      watermarked = marked.watermarked;
    }
    const started = performance.now();
    const extra: Record<string, string | number> = { RNG: job.rng };
    if (job.strength !== undefined && job.source !== undefined) extra['Denoising strength'] = job.strength;
    if (job.kind === 'img2img' && job.hires !== undefined) {
      // A Creative upscale (hires fix), as A1111 records it.
      extra['Hires upscale'] = job.hires.factor;
      if (job.hires.upscaler !== undefined) extra['Hires upscaler'] = job.hires.upscaler;
    }
    // The job's own prompt, steps, scheduler and guidance; the image's seed and size.
    const parameters = formatParameters({
      ...job,
      seed,
      width,
      height,
      ...(model.hash === undefined ? {} : { modelHash: model.hash }),
      model: model.name,
      extra,
    });
    const png = await encodePng(rgb, width, height, parameters);
    timings.encode += performance.now() - started;
    return { png: new Uint8Array(png), seed, nsfw: image.nsfw, watermarked, width, height };
  }

  async close(): Promise<void> {
    await Promise.all([...this.byId.values()].map((model) => model.pipeline.release()));
  }
}
