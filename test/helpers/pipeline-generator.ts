/**
 * The real Stable Diffusion pipeline behind the worker service's ImageGenerator interface, for
 * end-to-end tests on the tiny-sd fixture: the same UNet loop, safety checker and filtered-image
 * placeholder a worker runs, without the CLI around it.
 */
import sharp from 'sharp';
import type {
  ImageGenerator,
  GenerationHooks,
  GenerationOutput,
  GenerationRequest,
  ModelInfo,
} from '@sdbot/worker';
import { StableDiffusionPipeline } from '../../worker/src/diffusion/pipeline.js';
import { filteredPlaceholder } from '../../worker/src/safety/placeholder.js';

export class PipelineGenerator implements ImageGenerator {
  readonly provider = 'cpu' as const;
  readonly simulated = false;
  readonly models: readonly ModelInfo[];

  private constructor(
    private readonly pipeline: StableDiffusionPipeline,
    modelId: string,
  ) {
    this.models = [
      {
        id: modelId,
        name: pipeline.info.name,
        hash: pipeline.info.hash,
        safetyChecker: pipeline.info.safetyChecker,
      },
    ];
  }

  static async load(directory: string, modelId: string): Promise<PipelineGenerator> {
    const pipeline = await StableDiffusionPipeline.load(directory, {
      provider: 'cpu',
      intraOpThreads: 1,
      graphOptimization: 'all',
      safetyChecker: true,
    });
    return new PipelineGenerator(pipeline, modelId);
  }

  async generate({ job, sourceImage }: GenerationRequest, hooks: GenerationHooks): Promise<GenerationOutput> {
    const latentSize = 4 * (job.height / 8) * (job.width / 8);
    const result = await this.pipeline.generate(
      {
        prompt: job.prompt,
        negativePrompt: job.negativePrompt,
        seed: job.seed,
        steps: job.steps,
        guidance: job.guidance,
        width: job.width,
        height: job.height,
        scheduler: job.scheduler,
        rng: job.rng,
        count: job.count,
        ...(sourceImage === undefined || job.strength === undefined
          ? {}
          : { init: { image: sourceImage, strength: job.strength } }),
      },
      {
        signal: hooks.signal,
        onStep: (step, total, latents) => {
          hooks.onStep(step, total, latents.data.subarray(0, latentSize));
        },
      },
    );
    const images = await Promise.all(
      result.images.map(async (image) => {
        const png = image.nsfw
          ? await filteredPlaceholder(image.width, image.height)
          : await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
              .png()
              .toBuffer();
        return {
          png: new Uint8Array(png),
          seed: image.seed,
          nsfw: image.nsfw,
          watermarked: false,
          width: image.width,
          height: image.height,
        };
      }),
    );
    return { images, truncatedTokens: result.truncatedTokens, stages: { ...result.timings.stages } };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
