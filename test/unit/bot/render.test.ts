import sharp from 'sharp';
import { jobResultSchema, jobSchema, ValidationError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { pendingComponents, resultComponents } from '../../../bot/src/render/components.js';
import { encodeCustomId, parseCustomId, type ButtonAction } from '../../../bot/src/render/custom-id.js';
import { EMBED_LIMITS, resultEmbed } from '../../../bot/src/render/embed.js';
import { fitAttachment } from '../../../bot/src/render/fit.js';
import { composeGrid } from '../../../bot/src/render/grid.js';
import { exampleJob, exampleResult } from '../../helpers/messages.js';

type Rgb = readonly [number, number, number];
const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const WHITE: Rgb = [255, 255, 255];

function tile([r, g, b]: Rgb, width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

async function pixel(png: Buffer, x: number, y: number): Promise<Rgb> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const offset = (y * info.width + x) * info.channels;
  return [data[offset] ?? -1, data[offset + 1] ?? -1, data[offset + 2] ?? -1];
}

/** Deterministic noise (xorshift), so encoded sizes are the same on every run. */
async function noise(width: number, height: number): Promise<Buffer> {
  const bytes = Buffer.alloc(width * height * 3);
  let state = 0x2545f491;
  for (let index = 0; index < bytes.length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return sharp(bytes, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

describe('grid', () => {
  it('puts four images in a 2x2 grid in button order', async () => {
    const grid = await composeGrid(
      await Promise.all([RED, GREEN, BLUE, WHITE].map((colour) => tile(colour))),
    );
    expect(grid).toMatchObject({ width: 128, height: 96, columns: 2, rows: 2 });
    expect((await sharp(grid.data).metadata()).format).toBe('png');
    expect(await pixel(grid.data, 32, 24)).toEqual(RED);
    expect(await pixel(grid.data, 96, 24)).toEqual(GREEN);
    expect(await pixel(grid.data, 32, 72)).toEqual(BLUE);
    expect(await pixel(grid.data, 96, 72)).toEqual(WHITE);
    // Tile edges are exact: no blending, no gap.
    expect(await pixel(grid.data, 63, 47)).toEqual(RED);
    expect(await pixel(grid.data, 64, 48)).toEqual(WHITE);
  });

  it('leaves the fourth cell dark for three images and uses one row for two', async () => {
    const three = await composeGrid(await Promise.all([RED, GREEN, BLUE].map((colour) => tile(colour))));
    expect(three).toMatchObject({ width: 128, height: 96 });
    expect(await pixel(three.data, 96, 72)).toEqual([43, 45, 49]);
    const two = await composeGrid(await Promise.all([RED, GREEN].map((colour) => tile(colour))));
    expect(two).toMatchObject({ width: 128, height: 48, columns: 2, rows: 1 });
    expect(await pixel(two.data, 96, 24)).toEqual(GREEN);
  });

  it('posts a single image as it is', async () => {
    const only = await tile(BLUE);
    const grid = await composeGrid([only]);
    expect(grid.data).toBe(only);
    expect(grid).toMatchObject({ width: 64, height: 48, columns: 1, rows: 1 });
  });

  it('refuses images of different sizes or that are not images', async () => {
    await expect(composeGrid([await tile(RED), await tile(GREEN, 64, 64)])).rejects.toThrow(
      'image 2 is 64x64; every image of a grid must be 64x48',
    );
    await expect(composeGrid([await tile(RED), Buffer.from('not an image')])).rejects.toMatchObject({
      code: 'IMAGE_INVALID',
      message: 'image 2 of the grid cannot be read',
    });
  });
});

describe('fit to the attachment limit', () => {
  it('sends a PNG under the limit untouched', async () => {
    const png = await tile(RED);
    expect(await fitAttachment(png, { baseName: 'sdbot-job-1' })).toEqual({
      data: png,
      fileName: 'sdbot-job-1.png',
      contentType: 'image/png',
      reduced: false,
    });
  });

  it('re-encodes a large noisy PNG until it fits, and says so', async () => {
    const png = await noise(384, 384);
    const limit = 200 * 1024;
    expect(png.length).toBeGreaterThan(limit);
    const fitted = await fitAttachment(png, { baseName: 'sdbot-job-2', limitBytes: limit, spoiler: true });
    expect(fitted.reduced).toBe(true);
    expect(fitted.data.length).toBeLessThanOrEqual(limit);
    const format = (await sharp(fitted.data).metadata()).format;
    expect(`image/${format}`).toBe(fitted.contentType);
    expect(fitted.fileName).toBe(`SPOILER_sdbot-job-2.${format === 'jpeg' ? 'jpg' : format}`);
    expect(fitted.note).toMatch(
      /^The PNG \(\d+ KiB\) is over the 200 KiB upload limit here, so this is a (WebP|JPEG) at quality \d+/,
    );
  });

  it('scales down when no quality is enough', async () => {
    const png = await noise(320, 320);
    const fitted = await fitAttachment(png, { baseName: 'sdbot-job-3', limitBytes: 16 * 1024 });
    expect(fitted.data.length).toBeLessThanOrEqual(16 * 1024);
    expect(fitted.contentType).toBe('image/jpeg');
    const { width, height } = await sharp(fitted.data).metadata();
    expect(width).toBeLessThan(320);
    expect(width).toBe(height);
    expect(fitted.note).toContain(`scaled to ${width}x${height}`);
  });

  it('refuses a limit too small for any picture', async () => {
    await expect(fitAttachment(await tile(RED), { baseName: 'x', limitBytes: 1000 })).rejects.toThrow(
      ValidationError,
    );
  });
});

describe('button custom_ids', () => {
  const longId = 'j'.repeat(64);
  const actions: ButtonAction[] = [
    { type: 'upscale', jobId: longId, index: 0 },
    { type: 'upscale', jobId: 'job-1', index: 3 },
    { type: 'variation', jobId: 'job_1', index: 2 },
    { type: 'reroll', jobId: longId },
    { type: 'delete', jobId: 'job-1' },
    { type: 'cancel', jobId: 'job-1' },
  ];

  it.each(actions)('round-trips %j within 100 characters', (action) => {
    const customId = encodeCustomId(action);
    expect(customId.length).toBeLessThanOrEqual(100);
    expect(parseCustomId(customId)).toEqual({ ok: true, action });
  });

  it('encodes the documented format', () => {
    expect(encodeCustomId({ type: 'upscale', jobId: 'abc', index: 2 })).toBe('sdbot:u:abc:2');
    expect(encodeCustomId({ type: 'reroll', jobId: 'abc' })).toBe('sdbot:r:abc');
  });

  it.each([
    ['', true],
    ['other-bot:u:abc:1', true],
    ['sdbotx:u:abc:1', true],
    ['sdbot', false],
    ['sdbot:', false],
    ['sdbot:x:abc:1', false],
    ['sdbot:u:abc', false],
    ['sdbot:u:abc:4', false],
    ['sdbot:u:abc:-1', false],
    ['sdbot:u:abc:01', false],
    ['sdbot:u:abc:1.0', false],
    ['sdbot:u:abc: 1', false],
    ['sdbot:r:abc:1', false],
    ['sdbot:u:abc:1:extra', false],
    ['sdbot:u::1', false],
    ['sdbot:u:bad id:1', false],
    ['sdbot:u:a.b:1', false],
    [`sdbot:r:${'j'.repeat(65)}`, false],
    [`sdbot:r:${'j'.repeat(100)}`, false],
  ])('refuses %j (foreign: %s)', (customId, foreign) => {
    const parsed = parseCustomId(customId);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.foreign).toBe(foreign);
  });

  it('refuses to encode what it could not parse back', () => {
    expect(() => encodeCustomId({ type: 'upscale', jobId: 'abc', index: 4 })).toThrow(TypeError);
    expect(() => encodeCustomId({ type: 'delete', jobId: 'a:b' })).toThrow(TypeError);
  });
});

describe('result components', () => {
  it.each([1, 2, 3, 4])('for %i images stay within 5 rows of 5 buttons, all ids unique and ours', (count) => {
    const rows = resultComponents('job-1', count);
    expect(rows.length).toBeLessThanOrEqual(5);
    const ids = rows.flatMap((row) => row.components.map((component) => component.custom_id));
    for (const row of rows) expect(row.components.length).toBeLessThanOrEqual(5);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(parseCustomId(id).ok).toBe(true);
    expect(rows.map((row) => row.components.map((component) => component.label))).toEqual([
      [...Array.from({ length: count }, (_, index) => `U${index + 1}`), 'Re-roll'],
      [...Array.from({ length: count }, (_, index) => `V${index + 1}`), 'Delete'],
    ]);
  });

  it('drops U buttons on an upscale and offers cancel while a job is pending', () => {
    const rows = resultComponents('job-1', 1, { upscale: false });
    expect(rows.map((row) => row.components.map((component) => component.label))).toEqual([
      ['Re-roll'],
      ['V1', 'Delete'],
    ]);
    const pending = pendingComponents('job-1');
    expect(pending).toHaveLength(1);
    expect(pending[0]?.components.map((component) => [component.label, component.custom_id])).toEqual([
      ['Cancel', 'sdbot:c:job-1'],
    ]);
    expect(() => resultComponents('job-1', 5)).toThrow(RangeError);
  });
});

describe('result embed', () => {
  function embedLength(embed: ReturnType<typeof resultEmbed>): number {
    return (
      (embed.title?.length ?? 0) +
      (embed.description?.length ?? 0) +
      (embed.footer?.text.length ?? 0) +
      (embed.fields ?? []).reduce((sum, field) => sum + field.name.length + field.value.length, 0)
    );
  }

  it('shows the prompt, settings, seeds, time and notices', () => {
    const job = jobSchema.parse(exampleJob({ prompt: 'a *bold* lighthouse', scheduler: 'euler_a' }));
    const result = jobResultSchema.parse(
      exampleResult({
        truncatedTokens: 12,
        images: [0, 1, 2, 3].map((index) => ({
          ...exampleResult().images[0]!,
          seed: 42 + index,
          nsfw: index === 2,
        })),
      }),
    );
    const embed = resultEmbed(job, result, { imageFileName: 'sdbot-job-0001.png', attachmentNote: 'shrunk' });
    expect(embed.description).toBe('a \\*bold\\* lighthouse');
    expect(embed.image).toEqual({ url: 'attachment://sdbot-job-0001.png' });
    expect(embed.footer).toEqual({ text: 'job job-0001' });
    expect(embed.title).toBeUndefined();
    expect(Object.fromEntries((embed.fields ?? []).map((field) => [field.name, field.value]))).toEqual({
      Negative: 'blurry',
      Seeds: '42, 43, 44, 45',
      Steps: '30',
      Guidance: '7.5',
      Scheduler: 'Euler a',
      Size: '512x512',
      Model: 'sd15',
      Time: '3.4 s (waited 12 ms)',
      'Safety filter': '1 of 4 images was withheld by the safety filter.',
      'Prompt cut short': 'The model reads 77 tokens; the last 12 of this prompt were ignored.',
      Attachment: 'shrunk',
    });
  });

  it('names upscales and variations by image number', () => {
    const source = { image: exampleResult().images[0]!.image, index: 2, jobId: 'job-0000' };
    const upscale = jobSchema.parse({ ...exampleJob(), kind: 'upscale', source });
    expect(resultEmbed(upscale, jobResultSchema.parse(exampleResult())).title).toBe('Upscale of image 3');
  });

  it('stays within Discord embed limits with the longest prompts', () => {
    const job = jobSchema.parse(exampleJob({ prompt: '*'.repeat(2000), negativePrompt: '_'.repeat(2000) }));
    const embed = resultEmbed(job, jobResultSchema.parse(exampleResult({ truncatedTokens: 500 })), {
      attachmentNote: 'n'.repeat(2000),
    });
    expect(embed.description?.length).toBeLessThanOrEqual(EMBED_LIMITS.description);
    expect(embed.fields?.length).toBeLessThanOrEqual(EMBED_LIMITS.fields);
    for (const field of embed.fields ?? [])
      expect(field.value.length).toBeLessThanOrEqual(EMBED_LIMITS.fieldValue);
    expect(embedLength(embed)).toBeLessThanOrEqual(EMBED_LIMITS.total);
  });
});
