/**
 * Stable Diffusion v1 on onnxruntime, a drop-in for diffusers' OnnxStableDiffusionPipeline
 * (pipeline spec, section 2): txt2img and img2img, classifier-free guidance, a batch of up to four
 * images each reproducible alone from its own seed, seed variation, per-step progress,
 * cancellation between steps, and the safety checker.
 */
import { DEFAULT_IMAGE_SIDE, LIMITS, LOG_EVENTS, SdbotError, type Logger } from '@sdbot/shared';
import type { InferenceModel } from './backend/types.js';
import { readInitImage, type RgbImage } from './image/init-image.js';
import {
  loadModelDirectory,
  type LoadModelOptions,
  type ModelDirectoryInfo,
  type StableDiffusionModel,
} from './model.js';
import { createNoiseGenerator, type NoiseGenerator } from './noise.js';
import { paddingChunk, tokenizePrompt } from './prompt/index.js';
import { validateRequest, type PipelineRequest, type ImageInput, type ValidatedRequest } from './request.js';
import { createScheduler, type Scheduler } from './schedulers/index.js';
import { denoise, unetRowsPerRun, type DenoisingImage, type StepCallback } from './stages/denoise.js';
import { slerp } from './stages/initial-noise.js';
import { checkSafety } from './stages/safety.js';
import { encodePromptChunks } from './stages/text-encoder.js';
import { decodeLatents, encodeImage, sampleInitLatents, type DecodedImage } from './stages/vae.js';
import type { PeakRss } from './peak-rss.js';
import { StageClock, type GenerationTimings } from './timings.js';

export interface PipelineOptions extends LoadModelOptions {
  /** Largest width x height a request may ask for (SDBOT_MAX_PIXELS). */
  maxPixels?: number;
  /** Most rows one UNet run takes (SDBOT_UNET_MAX_ROWS; 0 or absent: auto, see unetRowsPerRun). */
  unetMaxRows?: number;
  logger?: Logger;
}

export interface GenerateOptions {
  onStep?: StepCallback;
  /** Checked before every UNet call; an aborted job fails with CANCELLED. */
  signal?: AbortSignal;
  /** A started sampler: the timings then carry each stage's peak RSS (benchmarks, verify). */
  memory?: PeakRss;
}

export interface PipelineImage {
  /** RGB, HWC, 8-bit. All zero (black, as the reference's checker leaves it) when `nsfw`, unless the request keeps flagged images. */
  pixels: Uint8Array;
  width: number;
  height: number;
  seed: number;
  /** Flagged by the safety checker: the pixels were blanked and must not be shown. */
  nsfw: boolean;
}

export interface GenerationResult {
  images: PipelineImage[];
  /** Prompt tokens beyond the text encoder's window that were dropped. */
  truncatedTokens: number;
  /** Same for the negative prompt. */
  negativeTruncatedTokens: number;
  /** A1111 syntax: the most 75-token chunks a prompt could use on this model. */
  promptChunkLimit: number | undefined;
  timings: GenerationTimings;
  unetCalls: number;
  /** Sum of UNet batch sizes: 2 rows per image and step with guidance, 1 without. */
  unetBatchRows: number;
  /** Most rows one UNet run took (the batch's rows run in as many runs as that needs). */
  unetRowsPerRun: number;
}

const LATENT_CHANNELS = 4;

function seedFor(seed: number, index: number): number {
  return (seed + index) % 2 ** 32;
}

/** Image i's starting noise: its own draw, blended toward the variation seed's draw if asked. */
function drawNoise(
  request: ValidatedRequest,
  generator: NoiseGenerator,
  index: number,
  size: number,
): Float32Array {
  const noise = generator.randn(size);
  const { variation } = request;
  if (variation === undefined || variation.strength === 0) return noise;
  const other = createNoiseGenerator(request.rng, seedFor(variation.seed, index)).randn(size);
  return slerp(variation.strength, noise, other);
}

export class StableDiffusionPipeline {
  private constructor(
    private readonly model: StableDiffusionModel,
    private readonly maxPixels: number,
    /** Most rows one UNet run takes. */
    private readonly rowsPerRun: number,
  ) {}

  /** Loads an export directory; fails with MODEL_INVALID naming the file if anything is off. */
  static async load(directory: string, options: PipelineOptions): Promise<StableDiffusionPipeline> {
    // Checked before the (long) load: a bad setting is the caller's mistake, whatever the model.
    unetRowsPerRun(options.unetMaxRows ?? 0, 'cpu');
    const model = await loadModelDirectory(directory, options);
    options.logger?.info({ model: model.info }, LOG_EVENTS.model.loaded);
    const chunks = model.fixedPromptChunks;
    if (chunks !== undefined && chunks < LIMITS.promptMaxChunks) {
      // A1111 prompts longer than this are cut here; the results say how many tokens were lost.
      options.logger?.warn({ model: model.info.name, chunks }, LOG_EVENTS.prompt.chunksLimited);
    }
    return new StableDiffusionPipeline(
      model,
      options.maxPixels ?? LIMITS.defaultMaxPixels,
      unetRowsPerRun(options.unetMaxRows ?? 0, model.unet.model.provider),
    );
  }

  get info(): ModelDirectoryInfo {
    return this.model.info;
  }

  async generate(request: PipelineRequest, options: GenerateOptions = {}): Promise<GenerationResult> {
    const clock = new StageClock(options.memory);
    const job = validateRequest(request, this.maxPixels);
    const { signal } = options;
    const checkCancelled = () => {
      if (signal?.aborted === true) throw new SdbotError('CANCELLED', 'generation cancelled');
    };
    checkCancelled();

    const initImage = job.init === undefined ? undefined : await this.readInit(job.init.image, job);
    const width = initImage?.width ?? job.width ?? 0;
    const height = initImage?.height ?? job.height ?? 0;
    const latentHeight = height / 8;
    const latentWidth = width / 8;
    const latentSize = LATENT_CHANNELS * latentHeight * latentWidth;
    const guided = job.guidance > 1;

    const { tokenizer, fixedPromptChunks } = this.model;
    const chunkLimit = Math.min(fixedPromptChunks ?? LIMITS.promptMaxChunks, LIMITS.promptMaxChunks);
    const { positive, negative } = await clock.time('tokenize', () => ({
      positive: tokenizePrompt(tokenizer, job.prompt, job.syntax, chunkLimit),
      negative: guided ? tokenizePrompt(tokenizer, job.negativePrompt, job.syntax, chunkLimit) : undefined,
    }));
    const textEncoder = clock.measure(this.model.textEncoder);
    const embeddings = await clock.time('textEncoder', () =>
      encodePromptChunks(textEncoder, positive, negative, paddingChunk(tokenizer), fixedPromptChunks),
    );
    checkCancelled();

    // Each image has its own scheduler (multistep history) and generator (its seed alone decides it).
    const slots = Array.from({ length: job.count }, (_, index) => {
      const scheduler = createScheduler(job.scheduler, this.model.schedulerConfig);
      scheduler.setTimesteps(job.steps);
      return { scheduler, generator: createNoiseGenerator(job.rng, seedFor(job.seed, index)) };
    });
    const timesteps = slots[0]?.scheduler.timesteps ?? [];

    const { start, images } =
      initImage === undefined
        ? {
            start: 0,
            images: await clock.time('noise', () =>
              slots.map((slot, index): DenoisingImage => {
                const sigma = Math.fround(slot.scheduler.initNoiseSigma);
                const noise = drawNoise(job, slot.generator, index, latentSize);
                return { ...slot, latents: noise.map((value) => sigma * value) };
              }),
            ),
          }
        : await this.startFromImage(job, initImage, slots, clock, latentSize);
    checkCancelled();

    const denoised = await clock.track('unet', () =>
      denoise({
        unet: clock.measure(this.model.unet.model),
        signature: this.model.unet.signature,
        images,
        timesteps: timesteps.slice(start),
        latentHeight,
        latentWidth,
        embeddings,
        guidance: job.guidance,
        rowsPerRun: this.rowsPerRun,
        signal,
        onStep: options.onStep,
      }),
    );
    clock.stages.unet += denoised.unetStepMs.reduce((sum, ms) => sum + ms, 0);
    clock.stages.scheduler += denoised.schedulerMs;
    checkCancelled();

    const vaeDecoder = clock.measure(this.model.vaeDecoder);
    const decoded: DecodedImage[] = [];
    for (const latents of denoised.latents) {
      decoded.push(
        await clock.time('vaeDecoder', () => decodeLatents(vaeDecoder, latents, latentHeight, latentWidth)),
      );
    }

    const checker = job.safetyCheck ? this.model.safetyChecker : undefined;
    const flags =
      checker === undefined
        ? decoded.map(() => false)
        : await clock.time('safety', () =>
            checkSafety(clock.measure(checker.model), checker.imageConfig, decoded),
          );
    return {
      images: decoded.map((image, index) => {
        const nsfw = flags[index] ?? false;
        return {
          pixels: nsfw && !job.keepFlagged ? new Uint8Array(image.pixels.length) : image.pixels,
          width,
          height,
          seed: seedFor(job.seed, index),
          nsfw,
        };
      }),
      truncatedTokens: positive.droppedTokens,
      negativeTruncatedTokens: negative?.droppedTokens ?? 0,
      promptChunkLimit: job.syntax === 'a1111' ? chunkLimit : undefined,
      timings: clock.finish(denoised.unetStepMs),
      unetCalls: denoised.unetCalls,
      unetBatchRows: denoised.unetBatchRows,
      unetRowsPerRun: denoised.unetRowsPerRun,
    };
  }

  /**
   * Runs every session once as a job at the base size would (512x512, or the largest square the
   * pixel cap allows): one guided step of as many images as a UNet run takes (up to a grid), the VAE
   * decoder, the safety checker if loaded, the VAE encoder if any. Jobs then pay no first-run costs
   * (allocations, kernel choice), and without the CPU arena the base size keeps the memory plan
   * that onnxruntime shares between all square sizes and gives to the first one run (README,
   * Memory).
   */
  async warmUp(): Promise<{ side: number; count: number }> {
    const fits = Math.floor(Math.sqrt(this.maxPixels) / LIMITS.sizeMultiple) * LIMITS.sizeMultiple;
    const side = Math.max(LIMITS.size.min, Math.min(DEFAULT_IMAGE_SIDE, fits));
    // A guided image is two rows: on a GPU one run takes a whole grid, on the CPU one row.
    const count = Math.min(LIMITS.count.max, Math.max(1, Math.floor(this.rowsPerRun / 2)));
    await this.generate({
      prompt: '',
      seed: 0,
      steps: 1,
      guidance: 7.5,
      scheduler: 'euler',
      width: side,
      height: side,
      count,
    });
    const encoder = this.model.vaeEncoder;
    if (encoder !== undefined) {
      const grey = new Uint8Array(side * side * 3).fill(128);
      await encodeImage(encoder.model, encoder.signature, grey, side, side);
    }
    return { side, count };
  }

  async release(): Promise<void> {
    await this.model.release();
  }

  private async readInit(source: ImageInput, job: ValidatedRequest): Promise<RgbImage> {
    if (this.model.vaeEncoder === undefined) {
      throw new SdbotError(
        'MODEL_INVALID',
        `${this.model.info.name} has no vae_encoder, so it cannot start from an image`,
      );
    }
    const size =
      job.width !== undefined && job.height !== undefined
        ? { width: job.width, height: job.height }
        : undefined;
    const image = await readInitImage(source, size);
    if (image.width * image.height > this.maxPixels) {
      throw new SdbotError(
        'IMAGE_INVALID',
        `init image is ${image.width}x${image.height} after rounding to multiples of 64; at most ${this.maxPixels} pixels are allowed`,
      );
    }
    return image;
  }

  /**
   * img2img (pipeline spec, section 2): encode the image, noise it to the timestep the strength
   * selects, and start the schedule there. Strength 0 with no steps_offset keeps the image as is.
   */
  private async startFromImage(
    job: ValidatedRequest,
    initImage: RgbImage,
    slots: readonly { scheduler: Scheduler; generator: NoiseGenerator }[],
    clock: StageClock,
    latentSize: number,
  ): Promise<{ start: number; images: DenoisingImage[] }> {
    const encoder = this.model.vaeEncoder;
    if (encoder === undefined)
      throw new SdbotError('MODEL_INVALID', `${this.model.info.name} has no vae_encoder`);
    const model: InferenceModel = clock.measure(encoder.model);
    const encoded = await clock.time('vaeEncoder', () =>
      encodeImage(model, encoder.signature, initImage.pixels, initImage.width, initImage.height),
    );
    const steps = job.steps;
    const offset = this.stepsOffset();
    const kept = Math.min(Math.floor(steps * (job.init?.strength ?? 0)) + offset, steps);
    return clock.time('noise', () => {
      const images = slots.map((slot, index): DenoisingImage => {
        // eps of a Gaussian encoder output comes first from the image's generator, then the noise.
        const init = sampleInitLatents(encoded, (count) => slot.generator.randn(count));
        if (kept === 0) return { ...slot, latents: init };
        const noise = drawNoise(job, slot.generator, index, latentSize);
        const { timesteps } = slot.scheduler;
        const noiseTimestep = timesteps[timesteps.length - kept] ?? 0;
        return { ...slot, latents: slot.scheduler.addNoise(init, noise, noiseTimestep) };
      });
      const start =
        kept === 0 ? (slots[0]?.scheduler.timesteps.length ?? 0) : Math.max(steps - kept + offset, 0);
      return { start, images };
    });
  }

  private stepsOffset(): number {
    const offset = (this.model.schedulerConfig as { steps_offset?: unknown }).steps_offset;
    return typeof offset === 'number' ? offset : 0;
  }
}
