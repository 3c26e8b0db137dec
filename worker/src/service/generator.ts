/**
 * What the worker service needs from an image generator. The real Stable Diffusion pipeline and
 * the simulated one (`sdbot worker --simulate`) both implement it, so everything around generation
 * (queueing, progress, cancellation, results) runs the same code in tests and in production.
 */
import {
  SdbotError,
  WORKER_CAPABILITIES,
  type ExecutionProviderName,
  type GenerationJob,
  type UpscaleJob,
  type WorkerHeartbeat,
} from '@sdbot/shared';

/** A model as workers advertise it in their heartbeats. */
export type ModelInfo = WorkerHeartbeat['models'][number];

export interface GeneratedImage {
  png: Uint8Array;
  seed: number;
  /** Flagged by the safety checker; `png` is then the placeholder, never the original. */
  nsfw: boolean;
  watermarked: boolean;
  width: number;
  height: number;
}

export interface GenerationOutput {
  images: GeneratedImage[];
  /** Prompt tokens beyond the text encoder's window that were dropped. */
  truncatedTokens: number;
  /** The same for the negative prompt. */
  negativeTruncatedTokens?: number;
  /** A1111 syntax: the most 75-token chunks a prompt could use. */
  promptChunkLimit?: number;
  /** Milliseconds per stage (textEncoder, unet, vae, safety, watermark, encode). */
  stages: Record<string, number>;
}

export interface GenerationRequest {
  job: GenerationJob;
  /** The encoded source image of img2img jobs, already read from the object store. */
  sourceImage?: Uint8Array;
}

/** An `upscale` job and its source image, already read from the object store. */
export interface UpscaleRequest {
  job: UpscaleJob;
  sourceImage: Uint8Array;
}

export interface GenerationHooks {
  /**
   * Called after each denoising step. `latents` (the first image's, NCHW, 4 x height/8 x width/8)
   * lets the service draw a cheap preview; a generator may leave it out.
   */
  onStep: (step: number, total: number, latents?: Float32Array) => void;
  /** Checked between steps; an aborted generation rejects with `signal.reason`. */
  signal: AbortSignal;
}

export interface ImageGenerator {
  readonly models: readonly ModelInfo[];
  readonly provider: ExecutionProviderName;
  readonly simulated: boolean;
  generate(request: GenerationRequest, hooks: GenerationHooks): Promise<GenerationOutput>;
  /** Runs `upscale` jobs; absent on a generator that serves no super-resolution model. */
  upscale?(request: UpscaleRequest, hooks: GenerationHooks): Promise<GenerationOutput>;
  /** Releases the models (inference sessions). */
  close(): Promise<void>;
}

/** Runs an upscale job on a generator that can, or refuses it (INVALID_INPUT). */
export function upscaleWith(
  generator: ImageGenerator,
  job: UpscaleJob,
  sourceImage: Uint8Array | undefined,
  hooks: GenerationHooks,
): Promise<GenerationOutput> {
  if (generator.upscale === undefined) {
    throw new SdbotError('INVALID_INPUT', `this worker cannot run ${job.kind} jobs`);
  }
  if (sourceImage === undefined)
    throw new SdbotError('INVALID_INPUT', 'an upscale job needs its source image');
  return generator.upscale({ job, sourceImage }, hooks);
}

/** What a worker announces and checks jobs against; upscaling only with an upscaler loaded. */
export function capabilitiesOf(generator: ImageGenerator): string[] {
  return [...WORKER_CAPABILITIES, ...(generator.upscale !== undefined ? ['upscale'] : [])];
}
