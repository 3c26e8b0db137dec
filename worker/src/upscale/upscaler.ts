/**
 * A super-resolution model in the Real-ESRGAN convention (one RGB NCHW input and output, 0..1 in and
 * out, dynamic height and width). Names and the scale are read from the model itself: the input and
 * output names from the session, the scale by running it once on a small probe. Large images run in
 * overlapping tiles (tiles.ts) so memory depends on the tile size, not on the image.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { LIMITS, LOG_EVENTS, SdbotError, type Logger } from '@sdbot/shared';
import { InferenceThread } from '../diffusion/backend/inference-thread-host.js';
import { float32Tensor } from '../diffusion/backend/tensor.js';
import type { InferenceModel, SessionSettings } from '../diffusion/backend/types.js';
import { MIN_TILE, axisWeights, layoutTiles, sharedStrips, type Tile, type TileLayout } from './tiles.js';

/** Default tile side and overlap (input pixels); see the README on picking the overlap. */
export const DEFAULT_TILE = 256;
export const DEFAULT_OVERLAP = 32;
/** Output pixels at each tile's inner edges that get no weight in the blend. */
const EDGE_MARGIN_FRACTION = 0.25;
/** Side of the probe image that reveals the scale. */
const PROBE_SIDE = 16;
const SCALES = [2, 3, 4, 8] as const;

export interface UpscalerInfo {
  /** Subject-safe id jobs route by: the directory (or file) name. */
  id: string;
  /** Display name, as the parameters text shows it. */
  name: string;
  scale: number;
  file: string;
  input: string;
  output: string;
  /** Side of the square input a model with a fixed input size takes; undefined: any size. */
  fixedSide?: number;
}

export interface RgbPixels {
  /** HWC, 8-bit RGB. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface UpscaleOptions {
  /** Tile side in input pixels; 0: the whole image at once. */
  tile: number;
  overlap: number;
  signal?: AbortSignal;
  onTile?: (done: number, total: number) => void;
  logger?: Logger;
}

function invalid(file: string, problem: string): SdbotError {
  return new SdbotError('MODEL_INVALID', `${file}: ${problem}`);
}

/** The one .onnx file a directory holds (or the file itself). */
export async function findUpscalerFile(path: string): Promise<string> {
  const info = await stat(path).catch((cause: unknown) => {
    throw new SdbotError('MODEL_INVALID', `${path}: no such upscaler file or directory`, { cause });
  });
  if (info.isFile()) return path;
  const files = (await readdir(path)).filter((name) => name.toLowerCase().endsWith('.onnx')).sort();
  if (files.length === 0) throw invalid(path, 'holds no .onnx file (an upscaler directory holds one)');
  if (files.length > 1) {
    throw invalid(path, `holds several .onnx files (${files.join(', ')}); name one of them instead`);
  }
  return join(path, files[0] ?? '');
}

/** Display name of an upscaler path: the directory's name, or the file's without .onnx. */
export function upscalerNameOf(path: string, file: string): string {
  return resolve(path) === resolve(file) ? basename(file).replace(/\.onnx$/i, '') : basename(resolve(path));
}

/** Job subject token for an upscaler path: its name, reduced to a subject token. */
export function upscalerIdOf(path: string, file: string): string {
  const id = upscalerNameOf(path, file)
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 64);
  if (!LIMITS.idPattern.test(id)) throw invalid(path, 'cannot derive an upscaler id from its name');
  return id;
}

/** The fixed square input side a model declares (`[1, 3, 128, 128]`), or undefined when free. */
function fixedSideOf(model: InferenceModel): number | undefined {
  const [, , height, width] = model.inputs[0]?.shape ?? [];
  if (typeof height !== 'number' && typeof width !== 'number') return undefined;
  if (height !== width || typeof height !== 'number' || height < MIN_TILE) {
    throw invalid(
      model.file,
      `takes a fixed ${String(width)}x${String(height)} input; sdbot runs free sizes or a fixed square of at least ${MIN_TILE}`,
    );
  }
  return height;
}

function checkSignature(model: InferenceModel): { input: string; output: string } {
  const [input, ...extraInputs] = model.inputs;
  const [output] = model.outputs;
  if (input === undefined || extraInputs.length > 0) {
    throw invalid(model.file, `has ${model.inputs.length} inputs; an upscaler takes one image`);
  }
  if (output === undefined) throw invalid(model.file, 'has no output');
  for (const value of [input, output]) {
    if (value.shape.length !== 4) {
      throw invalid(model.file, `${value.name} has shape [${value.shape.join(', ')}]; expected [1, 3, H, W]`);
    }
    const channels = value.shape[1];
    if (typeof channels === 'number' && channels !== 3) {
      throw invalid(model.file, `${value.name} has ${channels} channels; expected 3 (RGB)`);
    }
    if (value.dtype !== 'float32' && value.dtype !== 'float16') {
      throw invalid(model.file, `${value.name} is ${value.dtype}; expected float32 or float16`);
    }
  }
  return { input: input.name, output: output.name };
}

export class Upscaler {
  private constructor(
    readonly info: UpscalerInfo,
    private readonly model: InferenceModel,
  ) {}

  /** Opens `path` (a directory with one .onnx file, or the file) and measures its scale. */
  static async load(path: string, settings: SessionSettings): Promise<Upscaler> {
    const file = await findUpscalerFile(path);
    // Its own inference thread, as every model has: a tile (seconds on a CPU) never blocks the
    // event loop that sends heartbeats, progress and cancellation.
    const thread = new InferenceThread(basename(file), settings.logger);
    const opened = await thread.open(file, settings).catch(async (error: unknown) => {
      await thread.close();
      throw error;
    });
    const model: InferenceModel = {
      file: opened.file,
      provider: opened.provider,
      inputs: opened.inputs,
      outputs: opened.outputs,
      run: (feeds, outputNames) => opened.run(feeds, outputNames),
      release: async () => {
        await opened.release();
        await thread.close();
      },
    };
    try {
      const { input, output } = checkSignature(model);
      const fixedSide = fixedSideOf(model);
      const side = fixedSide ?? PROBE_SIDE;
      const probe = float32Tensor(new Float32Array(3 * side * side).fill(0.5), [1, 3, side, side]);
      const result = await model.run({ [input]: probe }, [output]);
      const dims = result[output]?.dims ?? [];
      const scale = (dims[3] ?? 0) / side;
      if (!(SCALES as readonly number[]).includes(scale) || (dims[2] ?? 0) / side !== scale) {
        throw invalid(
          file,
          `turns a ${side}x${side} image into [${dims.join(', ')}]; expected 2x, 3x, 4x or 8x`,
        );
      }
      const id = upscalerIdOf(path, file);
      const name = upscalerNameOf(path, file);
      const info: UpscalerInfo = { id, name: name === '' ? id : name, scale, file, input, output };
      if (fixedSide !== undefined) info.fixedSide = fixedSide;
      return new Upscaler(info, model);
    } catch (error) {
      await model.release();
      throw error;
    }
  }

  get provider() {
    return this.model.provider;
  }

  /** Upscales by the model's scale; tiled unless `tile` is 0 or the image fits in one tile. */
  async upscale(image: RgbPixels, options: UpscaleOptions): Promise<RgbPixels> {
    const { width, height } = image;
    const { fixedSide } = this.info;
    let layout: TileLayout;
    if (fixedSide !== undefined) {
      // The model's own input size sets the tile; the overlap shrinks to fit it if need be.
      const overlap = Math.min(options.overlap, Math.ceil(fixedSide / 2) - 1);
      layout = layoutTiles(width, height, fixedSide, overlap, { exact: true });
    } else {
      const tile = options.tile === 0 ? Math.max(width, height, MIN_TILE) : options.tile;
      layout = layoutTiles(width, height, tile, options.tile === 0 ? 0 : options.overlap);
    }
    const scale = this.info.scale;
    const outWidth = width * scale;
    const outHeight = height * scale;
    const sums = new Float32Array(3 * outWidth * outHeight);
    const weights = new Float32Array(outWidth * outHeight);
    let done = 0;
    for (const region of layout.tiles) {
      options.signal?.throwIfAborted();
      const output = await this.runTile(image, region);
      accumulate(sums, weights, output, region, layout, scale, outWidth, outHeight);
      done += 1;
      options.onTile?.(done, layout.tiles.length);
      options.logger?.debug({ tile: done, tiles: layout.tiles.length, ...region }, LOG_EVENTS.upscale.tile);
    }
    return { rgb: toRgb8(sums, weights, outWidth * outHeight), width: outWidth, height: outHeight };
  }

  /**
   * Runs one tile; the output is `region` scaled. A fixed-size model gets the tile padded to its
   * input size by repeating the edge pixels, and only the region's part of its output is kept.
   */
  private async runTile(image: RgbPixels, region: Tile): Promise<Float32Array> {
    const { x, y } = region;
    const width = this.info.fixedSide ?? region.width;
    const height = this.info.fixedSide ?? region.height;
    const plane = width * height;
    const data = new Float32Array(3 * plane);
    for (let row = 0; row < height; row += 1) {
      const sourceRow = Math.min(y + row, image.height - 1);
      for (let column = 0; column < width; column += 1) {
        const from = (sourceRow * image.width + Math.min(x + column, image.width - 1)) * 3;
        const to = row * width + column;
        data[to] = (image.rgb[from] ?? 0) / 255;
        data[plane + to] = (image.rgb[from + 1] ?? 0) / 255;
        data[2 * plane + to] = (image.rgb[from + 2] ?? 0) / 255;
      }
    }
    const { input, output, scale } = this.info;
    const result = await this.model.run({ [input]: float32Tensor(data, [1, 3, height, width]) }, [output]);
    const tensor = result[output];
    const expected = [1, 3, height * scale, width * scale];
    if (tensor?.dtype !== 'float32' || tensor.dims.join() !== expected.join()) {
      throw new SdbotError(
        'INFERENCE_FAILED',
        `${this.info.file}: returned [${tensor?.dims.join(', ') ?? ''}] for a ${width}x${height} tile; expected [${expected.join(', ')}]`,
      );
    }
    if (width === region.width && height === region.height) return tensor.data;
    return cropPlanes(
      tensor.data,
      width * scale,
      height * scale,
      region.width * scale,
      region.height * scale,
    );
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

/** The top-left `width` x `height` of planar RGB data `fullWidth` x `fullHeight`. */
function cropPlanes(
  data: Float32Array,
  fullWidth: number,
  fullHeight: number,
  width: number,
  height: number,
): Float32Array {
  const cropped = new Float32Array(3 * width * height);
  for (let channel = 0; channel < 3; channel += 1) {
    for (let row = 0; row < height; row += 1) {
      const from = channel * fullWidth * fullHeight + row * fullWidth;
      cropped.set(data.subarray(from, from + width), channel * width * height + row * width);
    }
  }
  return cropped;
}

/** Adds one tile's output, weighted, into the running sums (planar RGB, output pixels). */
function accumulate(
  sums: Float32Array,
  weights: Float32Array,
  output: Float32Array,
  region: Tile,
  layout: TileLayout,
  scale: number,
  outWidth: number,
  outHeight: number,
): void {
  const width = region.width * scale;
  const height = region.height * scale;
  const strips = sharedStrips(region, layout, scale);
  const margin = Math.floor(layout.overlap * scale * EDGE_MARGIN_FRACTION);
  const wx = axisWeights(width, strips.left, strips.right, margin);
  const wy = axisWeights(height, strips.top, strips.bottom, margin);
  const plane = width * height;
  const outPlane = outWidth * outHeight;
  const left = region.x * scale;
  const top = region.y * scale;
  for (let row = 0; row < height; row += 1) {
    const rowWeight = wy[row] ?? 0;
    if (rowWeight === 0) continue;
    for (let column = 0; column < width; column += 1) {
      const weight = rowWeight * (wx[column] ?? 0);
      if (weight === 0) continue;
      const from = row * width + column;
      const to = (top + row) * outWidth + left + column;
      weights[to] = (weights[to] ?? 0) + weight;
      for (let channel = 0; channel < 3; channel += 1) {
        const index = channel * outPlane + to;
        sums[index] = (sums[index] ?? 0) + weight * clamp01(output[channel * plane + from] ?? 0);
      }
    }
  }
}

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/** Weighted mean per pixel, clamped and rounded to 8 bits (HWC). */
function toRgb8(sums: Float32Array, weights: Float32Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let pixel = 0; pixel < pixels; pixel += 1) {
    const weight = weights[pixel] ?? 0;
    for (let channel = 0; channel < 3; channel += 1) {
      const value = weight > 0 ? (sums[channel * pixels + pixel] ?? 0) / weight : 0;
      rgb[pixel * 3 + channel] = Math.round(clamp01(value) * 255);
    }
  }
  return rgb;
}
