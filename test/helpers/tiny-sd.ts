/** The tiny random-weight SD 1.x model and its goldens from ../shared, for pipeline tests. */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NoiseSource, SchedulerName } from '@sdbot/shared';
import { loadModelDirectory, type StableDiffusionModel } from '../../worker/src/diffusion/model.js';
import { StableDiffusionPipeline, type PipelineOptions } from '../../worker/src/diffusion/pipeline.js';
import { sharedFixture } from './shared-fixtures.js';

export const tinySd = sharedFixture('tiny-sd');
export const tinySdGolden = sharedFixture('tiny-sd-golden');

/** One entry of tiny-sd-golden/cases.json: what the reference produced from tiny-sd. */
export interface GoldenCase {
  name: string;
  prompt: string;
  negative: string;
  seed: number;
  steps: number;
  guidance: number;
  height: number;
  width: number;
  scheduler: SchedulerName;
  n: number;
  rng: NoiseSource;
  images: string[];
  nsfw: boolean[];
}

/**
 * Makes `directory` a copy of tiny-sd whose `part` (unet, safety_checker...) is the model `onnx`:
 * the other parts are links to the fixture's. The directory's name is the model's id.
 */
export function tinySdWithPart(directory: string, part: string, onnx: Uint8Array): string {
  mkdirSync(directory);
  for (const entry of readdirSync(tinySd.path)) {
    if (entry !== part) symlinkSync(join(tinySd.path, entry), join(directory, entry));
  }
  mkdirSync(join(directory, part));
  writeFileSync(join(directory, part, 'model.onnx'), onnx);
  return directory;
}

export function goldenCases(): GoldenCase[] {
  return JSON.parse(readFileSync(join(tinySdGolden.path, 'cases.json'), 'utf8')) as GoldenCase[];
}

/** How every tiny-sd test loads the model: on the CPU, one thread, the graph fully optimised. */
const tinySdLoad = { provider: 'cpu', intraOpThreads: 1, graphOptimization: 'all' } as const;

export function loadTinySd(options: Partial<PipelineOptions> = {}): Promise<StableDiffusionPipeline> {
  return StableDiffusionPipeline.load(tinySd.path, { ...tinySdLoad, safetyChecker: true, ...options });
}

/** The model's parts without a pipeline around them, for tests that call the UNet or checker directly. */
export function loadTinySdModel({
  safetyChecker,
}: {
  safetyChecker: boolean;
}): Promise<StableDiffusionModel> {
  return loadModelDirectory(tinySd.path, { ...tinySdLoad, safetyChecker });
}

/** The golden cat case as a request (64x64, PNDM, 10 steps), a quick base for feature tests. */
export const catRequest = {
  prompt: 'a photo of a cat',
  seed: 42,
  steps: 10,
  guidance: 7.5,
  width: 64,
  height: 64,
  scheduler: 'pndm',
} as const;
