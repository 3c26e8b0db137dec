import { readFile, stat, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import {
  createLogger,
  loadConfig,
  stringOption,
  UsageError,
  valueFlag,
  type CommandDefinition,
} from '@sdbot/shared';
import { WATERMARK_FLAG } from './flags.js';
import { readRgbImage } from '../image-io.js';
import { readParameters } from '../provenance.js';
import { finishUpscaled, upscaledParameters } from '../upscale/enlarge.js';
import { validateTiling } from '../upscale/tiles.js';
import { Upscaler } from '../upscale/upscaler.js';

function integerFlag(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new UsageError(`--${flag} must be a whole number of pixels (got ${JSON.stringify(text)})`);
  }
  return value;
}

export const upscaleCommand: CommandDefinition = {
  name: 'upscale',
  summary: 'Upscale an image file with a local super-resolution ONNX model (Real-ESRGAN convention)',
  usage: '--model DIR [--tile N] [--overlap N] IN OUT.png',
  allowPositionals: true,
  options: {
    model: valueFlag('DIR', 'Upscaler: a directory holding one .onnx file, or the file'),
    tile: valueFlag('N', 'Tile side in input pixels, 0 for the whole image (default SDBOT_UPSCALE_TILE)'),
    overlap: valueFlag('N', 'Pixels neighbouring tiles share and blend (default SDBOT_UPSCALE_OVERLAP)'),
    watermark: WATERMARK_FLAG,
  },
  details:
    'OUT is the input enlarged by the model scale (2x, 4x), with the input PNG `parameters` text\n' +
    'and the upscaler added. Provider and threads come from SDBOT_EXECUTION_PROVIDER and SDBOT_THREADS.',
  async run({ options, positionals, env, stdout, signal }) {
    const config = loadConfig({ env });
    const modelPath = stringOption(options, 'model', { required: true }) ?? '';
    const [input, output, ...extra] = positionals;
    if (input === undefined || output === undefined || extra.length > 0) {
      throw new UsageError('give exactly two files: IN (an image) and OUT (a .png to write)');
    }
    if (extname(output).toLowerCase() !== '.png')
      throw new UsageError(`OUT must name a .png file (got ${output})`);
    const tile = integerFlag(stringOption(options, 'tile'), 'tile', config.worker.upscaleTile);
    const overlap = integerFlag(stringOption(options, 'overlap'), 'overlap', config.worker.upscaleOverlap);
    if (tile !== 0) {
      try {
        validateTiling(tile, overlap);
      } catch (error) {
        throw new UsageError(
          `--tile ${tile} --overlap ${overlap}: ${error instanceof Error ? error.message : ''}`,
        );
      }
    }
    const inputStat = await stat(input).catch(() => null);
    if (!inputStat?.isFile()) throw new UsageError(`${input}: no such image file`);
    const bytes = await readFile(input);
    const image = await readRgbImage(bytes, input);
    const logger = createLogger({
      name: 'cli',
      level: config.log.level === 'info' ? 'warn' : config.log.level,
    });
    const upscaler = await Upscaler.load(modelPath, {
      provider: config.worker.executionProvider,
      intraOpThreads: config.worker.intraOpThreads,
      graphOptimization: config.worker.graphOptimization,
      logger,
    });
    try {
      const started = performance.now();
      const enlarged = await upscaler.upscale(image, { tile, overlap, signal, logger });
      const watermark = options.watermark !== false && config.worker.watermark;
      const finished = await finishUpscaled(enlarged, {
        watermarkText: watermark ? config.worker.watermarkText : undefined,
        parameters: upscaledParameters(readParameters(bytes), upscaler.info.scale, upscaler.info.name),
        logger,
      });
      await writeFile(output, finished.png);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const mark = finished.watermarked ? ', watermarked' : '';
      stdout.write(
        `wrote ${output} (${finished.width}x${finished.height}, ${upscaler.info.scale}x with ${upscaler.info.name}${mark}, ${seconds} s)\n`,
      );
    } finally {
      await upscaler.release();
    }
    return 0;
  },
};
