/**
 * `sdbot upscale` with the real trained RDN models in ../shared/upscaler-rdn: the expected outputs,
 * tiled against whole-image inference, the watermark and parameters text after upscaling, and
 * clear errors for bad input.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { readRgbImage } from '../../worker/src/image-io.js';
import { encodePng, readParameters } from '../../worker/src/provenance.js';
import { DEFAULT_OVERLAP, DEFAULT_TILE, Upscaler } from '../../worker/src/upscale/upscaler.js';
import { detectWatermark } from '../../worker/src/watermark/index.js';
import { runSdbot } from '../helpers/cli.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';
import { photoLikeImage } from '../helpers/synthetic-images.js';

const fixture = sharedFixture('upscaler-rdn');
const work = mkdtempSync(join(tmpdir(), 'sdbot-upscale-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface Case {
  input: string;
  scale: number;
  model: string;
  expected: string;
}

function cases(): Case[] {
  if (!fixture.available) return [];
  return JSON.parse(readFileSync(join(fixture.path, 'examples', 'cases.json'), 'utf8')) as Case[];
}

function differences(a: Uint8Array, b: Uint8Array): { max: number; count: number } {
  let max = 0;
  let count = 0;
  for (let index = 0; index < a.length; index += 1) {
    const difference = Math.abs((a[index] ?? 0) - (b[index] ?? 0));
    if (difference > 0) count += 1;
    max = Math.max(max, difference);
  }
  return { max, count };
}

const settings = { provider: 'cpu', intraOpThreads: 0, graphOptimization: 'all' } as const;

describe.skipIf(!fixture.available)(`sdbot upscale${fixture.skipNote}`, () => {
  it.each(cases())('turns $input into $expected ($scale x)', async ({ input, model, expected, scale }) => {
    const out = join(work, `${input}-x${scale}.png`);
    const modelDirectory = join(fixture.path, model, '..');
    const run = await runSdbot([
      'upscale',
      '--model',
      modelDirectory,
      join(fixture.path, 'examples', input),
      out,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [got, want, source] = await Promise.all([
      readRgbImage(out),
      readRgbImage(join(fixture.path, 'examples', expected)),
      readRgbImage(join(fixture.path, 'examples', input)),
    ]);
    expect([got.width, got.height]).toEqual([source.width * scale, source.height * scale]);
    expect([got.width, got.height]).toEqual([want.width, want.height]);
    const { max, count } = differences(got.rgb, want.rgb);
    expect(max).toBeLessThanOrEqual(1);
    expect(count).toBeLessThan(want.rgb.length / 1000);
  });

  it('tiled with the default tile and overlap stays within 2 levels of the whole image', async () => {
    const upscaler = await Upscaler.load(join(fixture.path, 'x2'), settings);
    try {
      // The fixture card enlarged so the default 256-pixel tiles apply (2 x 2 tiles).
      const card = await sharp(join(fixture.path, 'examples', 'card-b.png'))
        .resize(320, 288, { kernel: 'lanczos3' })
        .removeAlpha()
        .raw()
        .toBuffer();
      const image = { rgb: new Uint8Array(card), width: 320, height: 288 };
      const whole = await upscaler.upscale(image, { tile: 0, overlap: 0 });
      const tiled = await upscaler.upscale(image, { tile: DEFAULT_TILE, overlap: DEFAULT_OVERLAP });
      expect(differences(tiled.rgb, whole.rgb).max).toBeLessThanOrEqual(2);
      // Small tiles put many seams on the fixture itself; the same bound holds there.
      const small = await readRgbImage(join(fixture.path, 'examples', 'card-b.png'));
      const smallWhole = await upscaler.upscale(small, { tile: 0, overlap: 0 });
      const smallTiled = await upscaler.upscale(small, { tile: 48, overlap: 16 });
      expect(differences(smallTiled.rgb, smallWhole.rgb).max).toBeLessThanOrEqual(2);
    } finally {
      await upscaler.release();
    }
  });

  it('embeds the watermark again and keeps the parameters text with the upscaler added', async () => {
    const input = join(work, 'generated.png');
    const parameters =
      'a lighthouse at dusk\nSteps: 30, Sampler: PLMS, CFG scale: 7.5, Seed: 42, Size: 192x160';
    writeFileSync(input, await encodePng(photoLikeImage(192, 160, 'night', 3), 192, 160, parameters));
    const out = join(work, 'generated-x2.png');
    const run = await runSdbot(['upscale', '--model', join(fixture.path, 'x2'), input, out]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('384x320');
    const bytes = readFileSync(out);
    expect(readParameters(bytes)).toBe(`${parameters}, Postprocess upscale by: 2, Postprocess upscaler: x2`);
    const image = await readRgbImage(out);
    const readout = detectWatermark(image.rgb, image.width, image.height);
    expect(readout.match).toBe(true);
    expect(readout.text).toBe('StableDiffusionV1');
  });

  it('names the file and the problem for bad input', async () => {
    const model = join(fixture.path, 'x2');
    const notImage = join(work, 'notes.png');
    writeFileSync(notImage, 'not an image');
    const image = join(fixture.path, 'examples', 'card-b.png');
    const cases: [string[], RegExp][] = [
      [
        ['upscale', '--model', model, join(work, 'missing.png'), join(work, 'o.png')],
        /missing\.png: no such image file/,
      ],
      [['upscale', '--model', model, notImage, join(work, 'o.png')], /notes\.png: not a readable image/],
      [
        ['upscale', '--model', join(work, 'nowhere'), image, join(work, 'o.png')],
        /nowhere: no such upscaler/,
      ],
      [['upscale', '--model', work, image, join(work, 'o.png')], /holds no \.onnx file/],
      [['upscale', '--model', model, notImage, join(work, 'o.jpg')], /OUT must name a \.png file/],
      [
        ['upscale', '--model', model, '--tile', '64', '--overlap', '40', notImage, join(work, 'o.png')],
        /--overlap 40/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await runSdbot(args);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(message);
    }
  });
});
