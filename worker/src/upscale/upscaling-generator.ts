/**
 * Puts super-resolution models next to the diffusion generator: they are announced as models with
 * `upscaler: { scale }`, so the worker service pulls their queue (`sdbot.jobs.<upscaler id>`) like
 * any model's, and `generate` is the one place where an `upscale` job takes its own path. A plain
 * upscale runs the upscaler alone; a Creative one (hires fix) enlarges the source, then hands an
 * img2img job at the larger size to the diffusion generator, all in one job.
 */
import {
  SdbotError,
  type Config,
  type GenerationJob,
  type Hires,
  type Logger,
  type UpscaleJob,
} from '@sdbot/shared';
import { readRgbImage } from '../image-io.js';
import { encodePng, readParameters } from '../provenance.js';
import type {
  GenerationHooks,
  GenerationOutput,
  GenerationRequest,
  ImageGenerator,
  ModelInfo,
  UpscaleRequest,
} from '../service/generator.js';
import { enlarge, finishUpscaled, seedOfParameters, upscaledParameters } from './enlarge.js';
import type { Upscaler } from './upscaler.js';

export class UpscalingGenerator implements ImageGenerator {
  readonly models: readonly ModelInfo[];
  readonly provider: ImageGenerator['provider'];
  readonly simulated: boolean;
  private readonly upscalers: ReadonlyMap<string, Upscaler>;

  constructor(
    private readonly diffusion: ImageGenerator | undefined,
    upscalers: readonly Upscaler[],
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    const first = upscalers[0];
    if (diffusion === undefined && first === undefined) {
      throw new SdbotError('MODEL_INVALID', 'a worker needs at least one model or upscaler');
    }
    const ids = new Set(diffusion?.models.map((model) => model.id));
    for (const upscaler of upscalers) {
      if (ids.has(upscaler.info.id)) {
        throw new SdbotError('MODEL_INVALID', `two models are both named "${upscaler.info.id}"`);
      }
      ids.add(upscaler.info.id);
    }
    this.upscalers = new Map(upscalers.map((upscaler) => [upscaler.info.id, upscaler]));
    this.models = [
      ...(diffusion?.models ?? []),
      ...upscalers.map(({ info }) => ({
        id: info.id,
        name: info.name,
        safetyChecker: false,
        upscaler: { scale: info.scale },
      })),
    ];
    this.provider = diffusion?.provider ?? first?.provider ?? config.worker.executionProvider;
    this.simulated = diffusion?.simulated ?? false;
  }

  async generate(request: GenerationRequest, hooks: GenerationHooks): Promise<GenerationOutput> {
    if (this.diffusion === undefined) {
      throw new SdbotError('UNKNOWN_MODEL', `model "${request.job.model}" is not loaded by this worker`);
    }
    const { job, sourceImage } = request;
    // A Creative upscale (hires fix) enlarges first; everything else is plain diffusion.
    if (job.kind === 'img2img' && job.hires !== undefined) {
      if (sourceImage === undefined)
        throw new SdbotError('INVALID_INPUT', 'an img2img job needs its source image');
      return this.creative(job, job.hires, sourceImage, hooks);
    }
    return this.diffusion.generate(request, hooks);
  }

  upscale({ job, sourceImage }: UpscaleRequest, hooks: GenerationHooks): Promise<GenerationOutput> {
    return this.plain(job, sourceImage, hooks);
  }

  private tiling(hooks: GenerationHooks) {
    return {
      tile: this.config.worker.upscaleTile,
      overlap: this.config.worker.upscaleOverlap,
      signal: hooks.signal,
      logger: this.logger,
    };
  }

  private async plain(
    job: UpscaleJob,
    source: Uint8Array,
    hooks: GenerationHooks,
  ): Promise<GenerationOutput> {
    const upscaler = this.upscalers.get(job.model);
    if (upscaler === undefined) {
      throw new SdbotError('UNKNOWN_MODEL', `upscaler "${job.model}" is not loaded by this worker`);
    }
    const started = performance.now();
    const image = await readRgbImage(source, 'source image');
    const target = {
      width: job.width ?? image.width * upscaler.info.scale,
      height: job.height ?? image.height * upscaler.info.scale,
    };
    const enlarged = await enlarge(image, target, upscaler, {
      ...this.tiling(hooks),
      onTile: (done, total) => {
        hooks.onStep(done, total);
      },
    });
    const upscaled = performance.now();
    const factor = Math.round((100 * target.width) / image.width) / 100;
    const sourceParameters = readParameters(source);
    const finished = await finishUpscaled(enlarged, {
      watermarkText: this.config.worker.watermark ? this.config.worker.watermarkText : undefined,
      parameters: upscaledParameters(sourceParameters, factor, upscaler.info.name),
      logger: this.logger,
    });
    this.logger.info(
      {
        jobId: job.id,
        upscaler: upscaler.info.id,
        from: `${image.width}x${image.height}`,
        to: `${target.width}x${target.height}`,
      },
      'upscale:finished',
    );
    return {
      images: [
        {
          png: new Uint8Array(finished.png),
          // An upscale draws nothing: its seed is the source's, as its parameters text says.
          seed: seedOfParameters(sourceParameters),
          nsfw: false,
          watermarked: finished.watermarked,
          width: finished.width,
          height: finished.height,
        },
      ],
      truncatedTokens: 0,
      stages: { upscale: upscaled - started, finish: performance.now() - upscaled },
    };
  }

  /** Hires fix: enlarge with the named upscaler when loaded here (else Lanczos), then img2img. */
  private async creative(
    job: Extract<GenerationJob, { kind: 'img2img' }>,
    hires: Hires,
    source: Uint8Array,
    hooks: GenerationHooks,
  ): Promise<GenerationOutput> {
    if (this.diffusion === undefined) {
      throw new SdbotError('UNKNOWN_MODEL', `model "${job.model}" is not loaded by this worker`);
    }
    const started = performance.now();
    const upscaler = hires.upscaler === undefined ? undefined : this.upscalers.get(hires.upscaler);
    const image = await readRgbImage(source, 'source image');
    const enlarged = await enlarge(
      image,
      { width: job.width, height: job.height },
      upscaler,
      this.tiling(hooks),
    );
    const init = await encodePng(enlarged.rgb, enlarged.width, enlarged.height);
    const upscaled = performance.now() - started;
    this.logger.info(
      { jobId: job.id, upscaler: upscaler?.info.id ?? 'lanczos', to: `${job.width}x${job.height}` },
      'upscale:enlarged',
    );
    // The parameters text names what really enlarged the image (Lanczos when the upscaler is elsewhere).
    const used: Hires = { factor: hires.factor, upscaler: upscaler?.info.name ?? 'Lanczos' };
    const output = await this.diffusion.generate({ job: { ...job, hires: used }, sourceImage: init }, hooks);
    return { ...output, stages: { upscale: upscaled, ...output.stages } };
  }

  async close(): Promise<void> {
    await Promise.all([
      this.diffusion?.close(),
      ...[...this.upscalers.values()].map((upscaler) => upscaler.release()),
    ]);
  }
}
