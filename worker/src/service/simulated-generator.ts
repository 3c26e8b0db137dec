/**
 * A generator without a model: it sleeps instead of running the UNet, then draws a gradient whose
 * corner colours are the seed's bytes. It honours steps, count, size, img2img strength and
 * cancellation exactly like the real pipeline, so the distributed machinery can be exercised (and
 * load-tested) on any machine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LIMITS, SdbotError, type GenerationJob } from '@sdbot/shared';
import sharp from 'sharp';
import type { GenerationHooks, GenerationOutput, GenerationRequest, ImageGenerator } from './generator.js';
import { encodeRgbPng } from './rgb-png.js';

/** Corner colour of a seed: its low three bytes as red, green and blue. */
export function seedColour(seed: number): [number, number, number] {
  return [seed & 0xff, (seed >>> 8) & 0xff, (seed >>> 16) & 0xff];
}

/** RGB gradient from the seed's colour (top left) to its complement (bottom right). */
export function seedGradient(seed: number, width: number, height: number): Uint8Array {
  const from = seedColour(seed);
  // A pixel is (x / (width - 1) + y / (height - 1)) / 2 of the way: the columns' part once.
  const columns = Float64Array.from({ length: width }, (_, x) => x / Math.max(1, width - 1));
  const pixels = new Uint8Array(width * height * 3);
  let offset = 0;
  for (let y = 0; y < height; y += 1) {
    const row = y / Math.max(1, height - 1);
    for (let x = 0; x < width; x += 1) {
      const t = ((columns[x] ?? 0) + row) / 2;
      for (let channel = 0; channel < 3; channel += 1) {
        const start = from[channel] ?? 0;
        pixels[offset] = Math.round(start + (255 - 2 * start) * t);
        offset += 1;
      }
    }
  }
  return pixels;
}

/** Steps an img2img job runs: diffusers skips the first (1 - strength) of the schedule. */
export function effectiveSteps(job: GenerationJob): number {
  if (job.source === undefined || job.strength === undefined) return job.steps;
  return Math.min(job.steps, Math.max(1, Math.floor(job.steps * job.strength)));
}

async function decodeSource(bytes: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  try {
    const raw = await sharp(bytes).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  } catch (cause) {
    throw new SdbotError('IMAGE_INVALID', 'the source image could not be decoded', { cause });
  }
}

/**
 * Smooth fake latents that sharpen as the job advances, so previews change step by step: one wave
 * per job, scaled by the progress at each step.
 */
function latentWave(length: number, seed: number): Float64Array {
  const phase = (seed % 997) / 97;
  return Float64Array.from({ length }, (_, index) => Math.sin(index * 0.05 + phase));
}

function fillLatents(latents: Float32Array, wave: Float64Array, progress: number): void {
  for (let index = 0; index < latents.length; index += 1) {
    latents[index] = (wave[index] ?? 0) * progress;
  }
}

export class SimulatedGenerator implements ImageGenerator {
  readonly provider = 'cpu' as const;
  readonly simulated = true;
  readonly models: ImageGenerator['models'];

  constructor(
    modelIds: readonly string[],
    private readonly msPerStep: number,
  ) {
    if (modelIds.length === 0) throw new SdbotError('INVALID_INPUT', 'a simulated worker needs a model id');
    for (const id of modelIds) {
      if (!LIMITS.idPattern.test(id)) {
        throw new SdbotError('INVALID_INPUT', `model id "${id}" must be 1-64 letters, digits, "_" or "-"`);
      }
    }
    this.models = modelIds.map((id) => ({ id, name: `${id} (simulated)`, safetyChecker: false }));
  }

  async generate(
    { job, sourceImage }: GenerationRequest,
    { onStep, signal }: GenerationHooks,
  ): Promise<GenerationOutput> {
    if (!this.models.some((model) => model.id === job.model)) {
      throw new SdbotError('UNKNOWN_MODEL', `model "${job.model}" is not loaded by this worker`);
    }
    const source =
      sourceImage === undefined ? undefined : await decodeSource(sourceImage, job.width, job.height);
    const total = effectiveSteps(job);
    const latents = new Float32Array(4 * (job.height / 8) * (job.width / 8));
    const wave = latentWave(latents.length, job.seed);
    const denoiseStart = performance.now();
    for (let step = 1; step <= total; step += 1) {
      signal.throwIfAborted();
      // Step k ends k steps after the start, like a UNet running back to back: a late timer is
      // made up on the next step instead of adding up.
      const wait = denoiseStart + step * this.msPerStep - performance.now();
      // A step that is already due takes no timer: Node makes even a 0 ms timer wait about 1 ms.
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal });
        } catch (error) {
          throw signal.aborted ? signal.reason : error;
        }
      }
      fillLatents(latents, wave, step / total);
      onStep(step, total, latents);
    }
    const unet = performance.now() - denoiseStart;
    const encodeStart = performance.now();
    const images = Array.from({ length: job.count }, (_, index) => {
      const seed = (job.seed + index) % (LIMITS.seed.max + 1);
      const pixels = seedGradient(seed, job.width, job.height);
      if (source !== undefined) blend(pixels, source, job.strength ?? 1);
      return {
        png: encodeRgbPng(pixels, job.width, job.height),
        seed,
        nsfw: false,
        watermarked: false,
        width: job.width,
        height: job.height,
      };
    });
    return { images, truncatedTokens: 0, stages: { unet, encode: performance.now() - encodeStart } };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** img2img stand-in: keep (1 - strength) of the source. */
function blend(pixels: Uint8Array, source: Uint8Array, strength: number): void {
  for (let index = 0; index < pixels.length; index += 1) {
    pixels[index] = Math.round((source[index] ?? 0) * (1 - strength) + (pixels[index] ?? 0) * strength);
  }
}
