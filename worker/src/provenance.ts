/**
 * Provenance in the PNG itself: the generation parameters as a `parameters` text chunk in the
 * AUTOMATIC1111 "infotext" format, which A1111's PNG Info tab, Civitai and most image browsers
 * read back. The watermark is embedded before encoding, so `encodePng` is the worker's last step.
 */
import { crc32, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { SdbotError, samplerName, type SchedulerName } from '@sdbot/shared';

/** The keyword A1111 and Civitai read generation parameters from. */
export const PARAMETERS_KEYWORD = 'parameters';

export interface GenerationParameters {
  prompt: string;
  negativePrompt?: string | undefined;
  steps: number;
  scheduler: SchedulerName;
  /** Written as A1111's "CFG scale". */
  guidance: number;
  seed: number;
  width: number;
  height: number;
  /** Short hash of the checkpoint (A1111 shows the first 10 hex digits of its SHA-256). */
  modelHash?: string;
  model?: string;
  /** Further "Key: value" pairs, in order (e.g. "Denoising strength", "RNG"). */
  extra?: Readonly<Record<string, string | number>>;
}

/** A1111's `quote`: values holding a comma, colon or newline become JSON strings. */
function quote(value: string | number): string {
  const text = String(value);
  return /[,:\n]/.test(text) ? JSON.stringify(text) : text;
}

/**
 * The infotext: prompt, then `Negative prompt: ...` when there is one, then one line of
 * `Key: value` pairs: `Steps: 30, Sampler: PLMS, CFG scale: 7.5, Seed: 42, Size: 512x512, ...`.
 */
export function formatParameters(parameters: GenerationParameters): string {
  const fields: [string, string | number | undefined][] = [
    ['Steps', parameters.steps],
    ['Sampler', samplerName(parameters.scheduler)],
    ['CFG scale', parameters.guidance],
    ['Seed', parameters.seed],
    ['Size', `${parameters.width}x${parameters.height}`],
    ['Model hash', parameters.modelHash],
    ['Model', parameters.model],
    ...Object.entries(parameters.extra ?? {}),
  ];
  const line = fields
    .filter((field): field is [string, string | number] => field[1] !== undefined && field[1] !== '')
    .map(([key, value]) => `${key}: ${quote(value)}`)
    .join(', ');
  const negative =
    parameters.negativePrompt === undefined || parameters.negativePrompt === ''
      ? ''
      : `\nNegative prompt: ${parameters.negativePrompt}`;
  return `${parameters.prompt}${negative}\n${line}`.trim();
}

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * A text chunk: tEXt for ASCII text, otherwise an uncompressed iTXt in UTF-8. tEXt is Latin-1
 * by the PNG spec, but libvips (sharp) and other readers decode it as UTF-8 and garble accents,
 * so anything beyond ASCII goes in iTXt, which PIL (A1111) reads alike. PNG text cannot hold NUL,
 * so NUL characters are dropped.
 */
function textChunk(keyword: string, text: string): Buffer {
  if (!/^[\x21-\x7e](?:[\x20-\x7e]{0,77}[\x21-\x7e])?$/.test(keyword)) {
    throw new SdbotError(
      'INVALID_INPUT',
      `PNG text keyword "${keyword}" must be 1-79 printable ASCII characters`,
    );
  }
  const clean = text.replaceAll('\0', '');
  const key = Buffer.from(keyword, 'latin1');
  if (isAscii(clean)) return chunk('tEXt', Buffer.concat([key, Buffer.of(0), Buffer.from(clean, 'latin1')]));
  // keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translation, NUL.
  return chunk('iTXt', Buffer.concat([key, Buffer.of(0, 0, 0, 0, 0), Buffer.from(clean, 'utf8')]));
}

interface PngChunk {
  type: string;
  /** Offset of the chunk's length field. */
  offset: number;
  data: Buffer;
}

function* chunksOf(png: Uint8Array): Generator<PngChunk> {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new SdbotError('IMAGE_INVALID', 'not a PNG file (bad signature)');
  }
  let offset = 8;
  while (offset < bytes.length) {
    if (offset + 12 > bytes.length) throw new SdbotError('IMAGE_INVALID', 'PNG file is truncated');
    const length = bytes.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (end > bytes.length) throw new SdbotError('IMAGE_INVALID', 'PNG file is truncated');
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== bytes.readUInt32BE(offset + 8 + length)) {
      throw new SdbotError('IMAGE_INVALID', `PNG chunk ${type} has a bad CRC`);
    }
    yield { type, offset, data: bytes.subarray(offset + 8, offset + 8 + length) };
    if (type === 'IEND') return;
    offset = end;
  }
}

/** Returns the PNG with a text chunk inserted before its first IDAT (where readers look). */
export function withTextChunk(png: Uint8Array, keyword: string, text: string): Buffer {
  for (const { type, offset } of chunksOf(png)) {
    if (type === 'IDAT') {
      const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
      return Buffer.concat([bytes.subarray(0, offset), textChunk(keyword, text), bytes.subarray(offset)]);
    }
  }
  throw new SdbotError('IMAGE_INVALID', 'PNG file has no image data (IDAT)');
}

function decodeTextChunk(type: string, data: Buffer): [string, string] | null {
  const keywordEnd = data.indexOf(0);
  if (keywordEnd < 1) return null;
  const keyword = data.toString('latin1', 0, keywordEnd);
  switch (type) {
    case 'tEXt':
      return [keyword, data.toString('latin1', keywordEnd + 1)];
    case 'zTXt':
      return [keyword, inflateSync(data.subarray(keywordEnd + 2)).toString('latin1')];
    case 'iTXt': {
      const compressed = data[keywordEnd + 1] === 1;
      const languageEnd = data.indexOf(0, keywordEnd + 3);
      const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1);
      if (translatedEnd < 0) return null;
      const body = data.subarray(translatedEnd + 1);
      return [keyword, (compressed ? inflateSync(body) : body).toString('utf8')];
    }
    default:
      return null;
  }
}

/** Every text chunk of a PNG (tEXt, zTXt, iTXt), keyword to text; the first of a keyword wins. */
export function readPngText(png: Uint8Array): Map<string, string> {
  const texts = new Map<string, string>();
  for (const { type, data } of chunksOf(png)) {
    const entry = decodeTextChunk(type, data);
    if (entry !== null && !texts.has(entry[0])) texts.set(entry[0], entry[1]);
  }
  return texts;
}

/** The generation parameters text of a PNG, or null when it has none. */
export function readParameters(png: Uint8Array): string | null {
  return readPngText(png).get(PARAMETERS_KEYWORD) ?? null;
}

/** Encodes an RGB (HWC, uint8) image as PNG, with the parameters text when given. */
export async function encodePng(
  rgb: Uint8Array,
  width: number,
  height: number,
  parameters?: string,
): Promise<Buffer> {
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return parameters === undefined ? png : withTextChunk(png, PARAMETERS_KEYWORD, parameters);
}
