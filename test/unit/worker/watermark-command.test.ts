import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { readRgbImage } from '../../../worker/src/image-io.js';
import { runSdbot } from '../../helpers/cli.js';
import { sharedFixture } from '../../helpers/shared-fixtures.js';
import { photoLikeImage } from '../../helpers/synthetic-images.js';
import { useTemporaryDirectory } from '../../helpers/temporary-directory.js';

const SD_PAYLOAD =
  '0101001101110100011000010110001001101100011001010100010001101001011001100110011001110101011100110110100101101111011011100101011000110001';
const samplesDir = sharedFixture('watermark-samples');

const scratch = useTemporaryDirectory('sdbot-watermark-');
let photo = '';

beforeAll(async () => {
  photo = join(scratch.path, 'photo.png');
  await sharp(photoLikeImage(512, 384, 'landscape', 4), { raw: { width: 512, height: 384, channels: 3 } })
    .png()
    .toFile(photo);
});

describe('sdbot watermark', () => {
  it('embed writes a PNG that detect --json reads as the exact payload', async () => {
    const out = join(scratch.path, 'marked.png');
    const embed = await runSdbot(['watermark', 'embed', photo, out]);
    expect(embed.stderr).toBe('');
    expect(embed.code).toBe(0);
    expect(embed.stdout).toMatch(
      /marked\.png: watermarked with "StableDiffusionV1"; .* 0 bit errors, PSNR \d+\.\d\d dB/,
    );
    const detect = await runSdbot(['watermark', 'detect', '--json', out]);
    expect(detect.code).toBe(0);
    expect(detect.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(detect.stdout)).toEqual({ bits: SD_PAYLOAD, text: 'StableDiffusionV1', match: true });
  });

  it('detect prints a readable verdict, and says so when the image carries no watermark', async () => {
    const out = join(scratch.path, 'readable.png');
    await runSdbot(['watermark', 'embed', photo, out]);
    const marked = await runSdbot(['watermark', 'detect', out]);
    expect(marked.stdout).toContain(
      `${out}: carries "StableDiffusionV1"\nbits: ${SD_PAYLOAD}\ntext: "StableDiffusionV1"\n`,
    );
    const plain = await runSdbot(['watermark', 'detect', photo]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/does not carry "StableDiffusionV1" \(\d+ of 136 bits differ\)/);
  });

  it('--text embeds and expects another payload; --json embed reports the numbers', async () => {
    const out = join(scratch.path, 'custom.png');
    const embed = await runSdbot(['watermark', 'embed', '--json', '--text', 'sdbot', photo, out]);
    expect(JSON.parse(embed.stdout)).toMatchObject({ watermarked: true, bitErrors: 0 });
    const detect = await runSdbot(['watermark', 'detect', '--json', '--text', 'sdbot', out]);
    expect(JSON.parse(detect.stdout)).toMatchObject({ text: 'sdbot', match: true });
  });

  it('reads any image as RGB, dropping alpha', async () => {
    const rgba = join(scratch.path, 'rgba.png');
    await sharp(photo).ensureAlpha(0.5).png().toFile(rgba);
    const out = join(scratch.path, 'from-rgba.png');
    expect((await runSdbot(['watermark', 'embed', rgba, out])).code).toBe(0);
    expect((await sharp(out).metadata()).channels).toBe(3);
    expect(JSON.parse((await runSdbot(['watermark', 'detect', '--json', out])).stdout)).toMatchObject({
      match: true,
    });
  });

  it('refuses images under 256x256 pixels without writing anything', async () => {
    const small = join(scratch.path, 'small.png');
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#336699' } })
      .png()
      .toFile(small);
    const out = join(scratch.path, 'small-out.png');
    const embed = await runSdbot(['watermark', 'embed', small, out]);
    expect(embed.code).toBe(1);
    expect(embed.stderr).toContain(
      `[IMAGE_INVALID]: ${small}: not watermarked: image is 200x200: smaller than 256x256`,
    );
    expect(existsSync(out)).toBe(false);
    const detect = await runSdbot(['watermark', 'detect', small]);
    expect(detect.code).toBe(1);
    expect(detect.stderr).toContain(`${small}: image is 200x200`);
  });

  it('names unreadable files', async () => {
    const junk = join(scratch.path, 'junk.png');
    writeFileSync(junk, 'not an image');
    const run = await runSdbot(['watermark', 'detect', junk]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`[IMAGE_INVALID]: ${junk}: not a readable image`);
    const missing = await runSdbot([
      'watermark',
      'embed',
      join(scratch.path, 'missing.png'),
      join(scratch.path, 'x.png'),
    ]);
    expect(missing.stderr).toContain('missing.png: not a readable image');
  });

  it('usage mistakes exit 2 with a message', async () => {
    const unknown = await runSdbot(['watermark', 'paint', photo]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown subcommand "paint": use embed or detect');
    expect((await runSdbot(['watermark'])).stderr).toContain('a subcommand is required');
    expect((await runSdbot(['watermark', 'embed', photo])).stderr).toContain(
      'embed takes an input and an output path',
    );
    expect((await runSdbot(['watermark', 'detect'])).stderr).toContain('detect takes one image path');
  });

  it.skipIf(!samplesDir.available)(
    `embed --reference reproduces invisible-watermark's output${samplesDir.skipNote}`,
    async () => {
      const out = join(scratch.path, 'reference.png');
      const run = await runSdbot([
        'watermark',
        'embed',
        '--reference',
        join(samplesDir.path, 'gradient.png'),
        out,
      ]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('26 bit errors');
      const ours = await readRgbImage(out);
      const reference = await readRgbImage(join(samplesDir.path, 'gradient.ref.png'));
      expect(Buffer.from(ours.rgb).equals(Buffer.from(reference.rgb))).toBe(true);
    },
  );
});
