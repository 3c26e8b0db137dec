/**
 * Images are measured from their header and refused before they are decoded when they claim more
 * than SDBOT_MAX_INPUT_PIXELS (default 40 megapixels): a 16000x16000 PNG of a few bytes must not
 * cost gigabytes in `watermark detect` or `safety-check`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSdbot } from '../helpers/cli.js';
import { pixelBombPng } from '../helpers/pixel-bomb.js';
import { tinySd } from '../helpers/tiny-sd.js';

const scratch = mkdtempSync(join(tmpdir(), 'sdbot-pixels-'));
const bomb = join(scratch, 'bomb.png');
const wide = join(scratch, 'wide.png');
const env = { LOG_LEVEL: 'silent' };

beforeAll(async () => {
  writeFileSync(bomb, await pixelBombPng(16_000, 16_000));
  await sharp({ create: { width: 1100, height: 1000, channels: 3, background: '#808080' } })
    .png()
    .toFile(wide);
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('decoding with a pixel limit', () => {
  it('the header of the bomb says 16000x16000', async () => {
    expect(await sharp(bomb).metadata()).toMatchObject({ width: 16_000, height: 16_000 });
  });

  it('watermark detect refuses a 16000x16000 PNG before decoding it', async () => {
    const run = await runSdbot(['watermark', 'detect', bomb], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('IMAGE_INVALID');
    expect(run.stderr).toContain(
      `${bomb} is 16000x16000 = 256000000 pixels, over the limit of 40000000 (SDBOT_MAX_INPUT_PIXELS)`,
    );
  });

  it('safety-check refuses it too, before loading the model', async () => {
    const run = await runSdbot(['safety-check', '--model', join(scratch, 'no-model'), bomb], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('over the limit of 40000000 (SDBOT_MAX_INPUT_PIXELS)');
  });

  it('generate --init refuses it before loading the model', async () => {
    const run = await runSdbot(
      [
        'generate',
        '--model',
        tinySd.path,
        '--prompt',
        'cat',
        '--init',
        bomb,
        '--out',
        join(scratch, 'o.png'),
      ],
      env,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`--init ${bomb} is 16000x16000`);
  });

  it('SDBOT_MAX_INPUT_PIXELS sets the limit; an image within it is read', async () => {
    const refused = await runSdbot(['watermark', 'detect', wide], {
      ...env,
      SDBOT_MAX_INPUT_PIXELS: '1000000',
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('is 1100x1000 = 1100000 pixels, over the limit of 1000000');
    const read = await runSdbot(['watermark', 'detect', wide], { ...env, SDBOT_MAX_INPUT_PIXELS: '1100000' });
    expect(read.code).toBe(0);
  });
});
