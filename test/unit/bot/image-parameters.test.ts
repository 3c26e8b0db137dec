/**
 * Reading A1111 parameters back: the worker's own infotext (round trip through formatParameters
 * and the PNG it writes), a hand-written A1111 sample, and the same text after re-encoding as JPEG
 * (EXIF UserComment, as A1111 writes it) or WebP (XMP).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { describeParameters } from '../../../bot/src/handlers/message-image.js';
import {
  exifUserComment,
  readEmbeddedParameters,
  xmpParameters,
} from '../../../bot/src/parameters/embedded.js';
import { parseInfotext, shownParameters } from '../../../bot/src/parameters/infotext.js';
import { withParameters } from '../../../bot/src/render/parameters-metadata.js';
import { encodePng, formatParameters, type GenerationParameters } from '../../../worker/src/provenance.js';

const MAX_PIXELS = 40_000_000;

const WORKER_PARAMETERS: GenerationParameters = {
  prompt: 'a lighthouse at dusk, oil painting\nsecond line: with "quotes"',
  negativePrompt: 'blurry, lowres',
  steps: 30,
  scheduler: 'euler_a',
  guidance: 7.5,
  seed: 123456789,
  width: 512,
  height: 768,
  modelHash: '6ce0161689',
  model: 'sd15, pruned: v1',
  extra: { 'Denoising strength': 0.75, RNG: 'NV' },
};

const A1111_SAMPLE = [
  'masterpiece, best quality, 1girl, (looking at viewer:1.2)',
  'Negative prompt: lowres, bad anatomy, text',
  'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 3735928559, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "detail: 1a2b3c4d5e, style: 0f9e8d7c6b", Version: v1.9.4',
].join('\n');

function rgb(width: number, height: number): Uint8Array {
  return new Uint8Array(width * height * 3).fill(128);
}

/** An EXIF block with only an Exif IFD holding a UserComment, as piexif (A1111) writes it. */
function exifWithUserComment(text: string, littleEndian: boolean): Buffer {
  const comment = Buffer.concat([Buffer.from('UNICODE\0', 'latin1'), Buffer.from(text, 'utf16le').swap16()]);
  const tiff = Buffer.alloc(8 + 18 + 18 + comment.length);
  const u16 = (value: number, at: number) =>
    littleEndian ? tiff.writeUInt16LE(value, at) : tiff.writeUInt16BE(value, at);
  const u32 = (value: number, at: number) =>
    littleEndian ? tiff.writeUInt32LE(value, at) : tiff.writeUInt32BE(value, at);
  tiff.write(littleEndian ? 'II' : 'MM', 0, 'latin1');
  u16(42, 2);
  u32(8, 4);
  u16(1, 8); // IFD0: one entry, the Exif IFD pointer
  u16(0x8769, 10);
  u16(4, 12);
  u32(1, 14);
  u32(26, 18);
  u32(0, 22);
  u16(1, 26); // Exif IFD: UserComment
  u16(0x9286, 28);
  u16(7, 30);
  u32(comment.length, 32);
  u32(44, 36);
  u32(0, 40);
  comment.copy(tiff, 44);
  return Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
}

describe('A1111 infotext', () => {
  it("reads back exactly what the worker's formatParameters writes", () => {
    const parsed = parseInfotext(formatParameters(WORKER_PARAMETERS));
    expect(parsed.prompt).toBe(WORKER_PARAMETERS.prompt);
    expect(parsed.negativePrompt).toBe('blurry, lowres');
    expect(Object.fromEntries(parsed.fields)).toEqual({
      Steps: '30',
      Sampler: 'Euler a',
      'CFG scale': '7.5',
      Seed: '123456789',
      Size: '512x768',
      'Model hash': '6ce0161689',
      Model: 'sd15, pruned: v1',
      'Denoising strength': '0.75',
      RNG: 'NV',
    });
    expect(shownParameters(parsed)).toEqual({
      prompt: WORKER_PARAMETERS.prompt,
      negativePrompt: 'blurry, lowres',
      seed: '123456789',
      steps: '30',
      sampler: 'Euler a',
      guidance: '7.5',
      size: '512x768',
      model: 'sd15, pruned: v1 (6ce0161689)',
    });
  });

  it('reads a job without negative prompt or model', () => {
    const { model: _model, modelHash: _hash, ...rest } = WORKER_PARAMETERS;
    const text = formatParameters({ ...rest, negativePrompt: '', extra: {} });
    const shown = shownParameters(parseInfotext(text));
    expect(shown.negativePrompt).toBe('');
    expect(shown.model).toBeUndefined();
    expect(shown.seed).toBe('123456789');
  });

  it('reads a hand-written A1111 sample, quoted values included', () => {
    const parsed = parseInfotext(A1111_SAMPLE);
    expect(parsed.prompt).toBe('masterpiece, best quality, 1girl, (looking at viewer:1.2)');
    expect(parsed.negativePrompt).toBe('lowres, bad anatomy, text');
    expect(parsed.fields.get('Lora hashes')).toBe('detail: 1a2b3c4d5e, style: 0f9e8d7c6b');
    expect(parsed.fields.get('Version')).toBe('v1.9.4');
    expect(shownParameters(parsed)).toMatchObject({
      seed: '3735928559',
      steps: '20',
      sampler: 'DPM++ 2M Karras',
      guidance: '7',
      size: '512x768',
      model: 'v1-5-pruned-emaonly (6ce0161689)',
    });
  });

  it('takes text without a settings line as all prompt', () => {
    const text = 'just a prompt, nothing else';
    const parsed = parseInfotext(text);
    expect(parsed.prompt).toBe(text);
    expect(parsed.fields.size).toBe(0);
  });

  it('describes the parameters in one private message', () => {
    const text = describeParameters('a.png', shownParameters(parseInfotext(A1111_SAMPLE)));
    expect(text).toBe(
      [
        'Parameters of a.png:',
        '**Prompt:** masterpiece, best quality, 1girl, (looking at viewer:1.2)',
        '**Negative prompt:** lowres, bad anatomy, text',
        '**Seed:** 3735928559 · **Steps:** 20 · **Sampler:** DPM++ 2M Karras · **Guidance:** 7 · **Size:** 512x768',
        '**Model:** v1-5-pruned-emaonly (6ce0161689)',
      ].join('\n'),
    );
  });
});

describe('parameters embedded in an image', () => {
  it('reads the PNG text chunk the worker writes (tEXt, and iTXt for non-ASCII text)', async () => {
    for (const prompt of ['ascii only', 'café, 東京, ünïcode']) {
      const text = formatParameters({ ...WORKER_PARAMETERS, prompt });
      const png = await encodePng(rgb(8, 8), 8, 8, text);
      expect(await readEmbeddedParameters(png, MAX_PIXELS)).toBe(text);
    }
  });

  it('reads the EXIF UserComment of a JPEG (UNICODE, either byte order)', async () => {
    expect(exifUserComment(exifWithUserComment(A1111_SAMPLE, false))).toBe(A1111_SAMPLE);
    expect(exifUserComment(exifWithUserComment(A1111_SAMPLE, true))).toBe(A1111_SAMPLE);
    const jpeg = await sharp(Buffer.from(rgb(8, 8)), { raw: { width: 8, height: 8, channels: 3 } })
      .jpeg()
      .withExif({ IFD2: { UserComment: A1111_SAMPLE } })
      .toBuffer();
    expect(await readEmbeddedParameters(jpeg, MAX_PIXELS)).toBe(A1111_SAMPLE);
  });

  it('reads an XMP UserComment of a WebP', async () => {
    const escaped = A1111_SAMPLE.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
    const xmp = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/"><exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">${escaped}</rdf:li></rdf:Alt></exif:UserComment></rdf:Description></rdf:RDF></x:xmpmeta>`;
    expect(xmpParameters(xmp)).toBe(A1111_SAMPLE);
    const webp = await sharp(Buffer.from(rgb(8, 8)), { raw: { width: 8, height: 8, channels: 3 } })
      .webp()
      .withXmp(xmp)
      .toBuffer();
    expect(await readEmbeddedParameters(webp, MAX_PIXELS)).toBe(A1111_SAMPLE);
  });

  it("reads what the bot's re-encoding of an oversized result keeps (EXIF for ASCII, XMP for any text)", async () => {
    for (const prompt of ['plain ascii, "quoted"', 'café, 東京 & <tags>']) {
      const text = formatParameters({ ...WORKER_PARAMETERS, prompt });
      const raw = sharp(Buffer.from(rgb(8, 8)), { raw: { width: 8, height: 8, channels: 3 } });
      for (const encoded of [
        await withParameters(raw.clone().jpeg(), text).toBuffer(),
        await withParameters(raw.clone().webp(), text).toBuffer(),
      ]) {
        expect(await readEmbeddedParameters(encoded, MAX_PIXELS)).toBe(text);
      }
    }
  });

  it('finds nothing in an image without parameters or in bytes that are not an image', async () => {
    expect(await readEmbeddedParameters(await encodePng(rgb(8, 8), 8, 8), MAX_PIXELS)).toBeUndefined();
    expect(await readEmbeddedParameters(Buffer.from('not an image'), MAX_PIXELS)).toBeUndefined();
  });
});
