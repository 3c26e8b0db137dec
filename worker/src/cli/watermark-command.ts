import { writeFile } from 'node:fs/promises';
import { loadConfig, SdbotError, stringOption, UsageError, type CommandDefinition } from '@sdbot/shared';
import { readRgbImage } from '../image-io.js';
import { encodePng } from '../provenance.js';
import {
  DEFAULT_WATERMARK_TEXT,
  detectWatermark,
  embedWatermark,
  embedWatermarkReference,
  type WatermarkReadout,
} from '../watermark/index.js';

const USAGE = 'embed IN.png OUT.png [--text T] [--reference] [--json] | detect IMAGE [--text T] [--json]';

export const watermarkCommand: CommandDefinition = {
  name: 'watermark',
  summary: 'Embed or read the invisible watermark (invisible-watermark dwtDct, as CompVis txt2img)',
  usage: USAGE,
  options: {
    text: {
      type: 'string',
      valueName: 'T',
      description: `Payload to embed, or expected when detecting (default "${DEFAULT_WATERMARK_TEXT}")`,
    },
    reference: {
      type: 'boolean',
      description: "embed: reproduce invisible-watermark's own embedder bit for bit (often unreadable)",
    },
    json: { type: 'boolean', description: 'Print one line of JSON' },
  },
  details: [
    'embed writes a PNG whose watermark the reference decoder reads back exactly; images smaller',
    'than 256x256 pixels are refused. detect prints the bits the reference decoder reads, their',
    'text, and whether they match the payload.',
  ].join('\n'),
  allowPositionals: true,
  async run({ options, positionals, env, stdout }) {
    const maxPixels = loadConfig({ env }).limits.maxInputPixels;
    const [subcommand, ...paths] = positionals;
    const text = stringOption(options, 'text') ?? DEFAULT_WATERMARK_TEXT;
    const json = options.json === true;
    switch (subcommand) {
      case 'embed': {
        const [input, output, ...rest] = paths;
        if (input === undefined || output === undefined || rest.length > 0) {
          throw new UsageError(
            'embed takes an input and an output path: sdbot watermark embed IN.png OUT.png',
          );
        }
        stdout.write(await embed(input, output, text, options.reference === true, json, maxPixels));
        return 0;
      }
      case 'detect': {
        const [image, ...rest] = paths;
        if (image === undefined || rest.length > 0) {
          throw new UsageError('detect takes one image path: sdbot watermark detect IMAGE');
        }
        if (options.reference === true) throw new UsageError('--reference applies to embed only');
        const { rgb, width, height } = await readRgbImage(image, { maxPixels });
        const readout = withPath(image, () => detectWatermark(rgb, width, height, text));
        stdout.write(
          json
            ? `${JSON.stringify({ bits: readout.bits, text: readout.text, match: readout.match })}\n`
            : formatReadout(image, text, readout),
        );
        return 0;
      }
      case undefined:
        throw new UsageError(`a subcommand is required: sdbot watermark ${USAGE}`);
      default:
        throw new UsageError(`unknown subcommand "${subcommand}": use embed or detect`);
    }
  },
};

async function embed(
  input: string,
  output: string,
  text: string,
  reference: boolean,
  json: boolean,
  maxPixels: number,
): Promise<string> {
  const { rgb, width, height } = await readRgbImage(input, { maxPixels });
  let marked: Uint8Array;
  let summary: Record<string, unknown>;
  if (reference) {
    const out = embedWatermarkReference(rgb, width, height, text);
    if (out === null) throw tooSmall(input, width, height);
    marked = out;
    summary = { watermarked: true, bitErrors: detectWatermark(out, width, height, text).bitErrors };
  } else {
    const result = embedWatermark(rgb, width, height, text);
    if (!result.watermarked) throw tooSmall(input, width, height, result.reason);
    marked = result.rgb;
    summary = {
      watermarked: true,
      bitErrors: result.bitErrors,
      psnr: Number(result.psnr.toFixed(2)),
      corrections: result.corrections,
    };
  }
  try {
    await writeFile(output, await encodePng(marked, width, height));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SdbotError('INVALID_INPUT', `${output}: cannot write the watermarked image (${reason})`, {
      cause: error,
    });
  }
  if (json) return `${JSON.stringify(summary)}\n`;
  const quality = typeof summary.psnr === 'number' ? `, PSNR ${summary.psnr.toFixed(2)} dB` : '';
  return `${output}: watermarked with "${text}"; the reference decoder reads it with ${String(summary.bitErrors)} bit errors${quality}\n`;
}

/** Runs `read`, naming the file in any error it raises. */
function withPath<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof SdbotError)
      throw new SdbotError(error.code, `${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

function tooSmall(path: string, width: number, height: number, reason?: string): SdbotError {
  return new SdbotError(
    'IMAGE_INVALID',
    `${path}: not watermarked: ${reason ?? `image is ${width}x${height}: smaller than 256x256 pixels`}`,
  );
}

function formatReadout(image: string, expected: string, readout: WatermarkReadout): string {
  const verdict = readout.match
    ? `carries "${expected}"`
    : `does not carry "${expected}" (${readout.bitErrors} of ${readout.bits.length} bits differ)`;
  return [
    `${image}: ${verdict}`,
    `bits: ${readout.bits}`,
    `text: ${readout.text === null ? '(not valid UTF-8)' : JSON.stringify(readout.text)}`,
    '',
  ].join('\n');
}
