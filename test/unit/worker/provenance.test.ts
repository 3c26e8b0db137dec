import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { SCHEDULER_NAMES, SdbotError, samplerName, schedulerForSampler } from '@sdbot/shared';
import {
  encodePng,
  formatParameters,
  readParameters,
  readPngText,
  withTextChunk,
  type GenerationParameters,
} from '../../../worker/src/provenance.js';

const lighthouse: GenerationParameters = {
  prompt: 'a lighthouse at dusk',
  negativePrompt: 'blurry',
  steps: 30,
  scheduler: 'pndm',
  guidance: 7.5,
  seed: 42,
  width: 512,
  height: 512,
  modelHash: 'abc123',
  model: 'sd15',
};

function testImage(width: number, height: number): Uint8Array {
  return Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 256);
}

/** Chunk types of a PNG in file order. */
function chunkTypes(png: Buffer): string[] {
  const types: string[] = [];
  for (let offset = 8; offset < png.length; offset += 12 + png.readUInt32BE(offset)) {
    types.push(png.toString('latin1', offset + 4, offset + 8));
  }
  return types;
}

function rawChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

describe('A1111 infotext', () => {
  it('formats prompt, negative prompt and the parameter line as A1111 does', () => {
    expect(formatParameters(lighthouse)).toBe(
      'a lighthouse at dusk\nNegative prompt: blurry\nSteps: 30, Sampler: PLMS, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: abc123, Model: sd15',
    );
  });

  it('omits an empty negative prompt and absent model fields, and appends extra fields in order', () => {
    const text = formatParameters({
      prompt: 'a cat',
      negativePrompt: '',
      steps: 20,
      scheduler: 'euler_a',
      guidance: 7,
      seed: 1,
      width: 768,
      height: 512,
      extra: { 'Denoising strength': 0.6, RNG: 'CPU' },
    });
    expect(text).toBe(
      'a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 768x512, Denoising strength: 0.6, RNG: CPU',
    );
  });

  it('quotes values holding a comma, colon or newline as JSON strings (A1111 quote)', () => {
    const text = formatParameters({ ...lighthouse, model: 'my:model, "v2"' });
    expect(text.split('\n').at(-1)).toMatch(/, Model: "my:model, \\"v2\\""$/);
  });

  it('names every scheduler the way A1111 and Civitai do', () => {
    expect(Object.fromEntries(SCHEDULER_NAMES.map((name) => [name, samplerName(name)]))).toEqual({
      pndm: 'PLMS',
      ddim: 'DDIM',
      euler: 'Euler',
      euler_a: 'Euler a',
      lms: 'LMS',
      heun: 'Heun',
      dpmpp_2m: 'DPM++ 2M',
      dpmpp_2m_karras: 'DPM++ 2M Karras',
      unipc: 'UniPC',
      lcm: 'LCM',
    });
  });

  it('reads every A1111 sampler name back to its scheduler', () => {
    for (const name of SCHEDULER_NAMES) expect(schedulerForSampler(samplerName(name))).toBe(name);
    expect(schedulerForSampler('PLMS')).toBe('pndm');
    expect(schedulerForSampler('PNDM')).toBeUndefined();
    expect(schedulerForSampler('DPM++ SDE')).toBeUndefined();
  });
});

describe('PNG parameters chunk', () => {
  it('round-trips through a PNG that sharp still decodes pixel for pixel', async () => {
    const rgb = testImage(24, 16);
    const text = formatParameters(lighthouse);
    const png = await encodePng(rgb, 24, 16, text);
    expect(readParameters(png)).toBe(text);
    const types = chunkTypes(png);
    expect(types.indexOf('tEXt')).toBeGreaterThan(types.indexOf('IHDR'));
    expect(types.indexOf('tEXt')).toBeLessThan(types.indexOf('IDAT'));
    const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(decoded.info).toMatchObject({ width: 24, height: 16, channels: 3 });
    expect(Buffer.from(rgb).equals(decoded.data)).toBe(true);
    // An independent reader (libvips) finds the same text, so the CRC and layout are right.
    expect((await sharp(png).metadata()).comments).toEqual([{ keyword: 'parameters', text }]);
  });

  it('stores non-ASCII prompts as UTF-8 iTXt that every reader decodes alike', async () => {
    for (const prompt of ['café au lait, naïve', '夕暮れの灯台 🌅', 'Маяк\nна закате']) {
      const text = formatParameters({ ...lighthouse, prompt });
      const png = await encodePng(testImage(8, 8), 8, 8, text);
      expect(chunkTypes(png)).toContain('iTXt');
      expect(readParameters(png)).toBe(text);
      expect((await sharp(png).metadata()).comments).toEqual([{ keyword: 'parameters', text }]);
    }
  });

  it('a PNG without parameters reads as null; encodePng without text adds no chunk', async () => {
    const png = await encodePng(testImage(8, 8), 8, 8);
    expect(readParameters(png)).toBeNull();
    expect(chunkTypes(png)).not.toContain('tEXt');
  });

  it('reads zTXt and compressed iTXt chunks written by other tools', async () => {
    const png = await encodePng(testImage(8, 8), 8, 8);
    const ztxt = rawChunk(
      'zTXt',
      Buffer.concat([Buffer.from('Comment\0\0'), deflateSync(Buffer.from('made elsewhere'))]),
    );
    const itxt = rawChunk(
      'iTXt',
      Buffer.concat([
        Buffer.from('parameters\0\x01\0en\0\0', 'latin1'),
        deflateSync(Buffer.from('ünïcode prompt', 'utf8')),
      ]),
    );
    const withChunks = Buffer.concat([png.subarray(0, 33), ztxt, itxt, png.subarray(33)]);
    expect(Object.fromEntries(readPngText(withChunks))).toEqual({
      Comment: 'made elsewhere',
      parameters: 'ünïcode prompt',
    });
  });

  it('rejects files that are not PNG, truncated, or corrupted, naming the problem', async () => {
    const png = await encodePng(testImage(8, 8), 8, 8, 'a prompt');
    expect(() => readParameters(Buffer.from('GIF89a not a png'))).toThrow(/not a PNG/);
    expect(() => readParameters(png.subarray(0, png.length - 20))).toThrow(/truncated/);
    const corrupted = Buffer.from(png);
    corrupted[40] = (corrupted[40] ?? 0) ^ 0xff;
    expect(() => readParameters(corrupted)).toThrow(SdbotError);
    expect(() => withTextChunk(png, 'bad\nkeyword', 'x')).toThrow(/keyword/);
  });
});
