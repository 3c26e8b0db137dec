/**
 * A worker-made PNG that is over the upload limit is re-encoded by the bot (WebP, then JPEG); its
 * `parameters` text must survive as EXIF UserComment (ASCII) and XMP, so nothing downstream loses it.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fitAttachment } from '../../bot/src/render/fit.js';
import { reencodedParameters } from '../../bot/src/render/parameters-metadata.js';
import { encodePng } from '../../worker/src/provenance.js';
import { photoLikeImage, seededRandom } from '../helpers/synthetic-images.js';

function noisy(width: number, height: number): Uint8Array {
  const random = seededRandom(11);
  const rgb = photoLikeImage(width, height, 'poster', 5);
  for (let index = 0; index < rgb.length; index += 1) {
    rgb[index] = Math.min(255, Math.max(0, (rgb[index] ?? 0) + Math.round((random() - 0.5) * 60)));
  }
  return rgb;
}

describe('parameters after re-encoding for the upload limit', () => {
  const width = 512;
  const height = 512;

  it.each([
    ['ASCII', 'a lighthouse at dusk\nSteps: 30, Sampler: PLMS, Seed: 42, Postprocess upscaler: x2'],
    ['UTF-8', 'ein Leuchtturm bei Dämmerung, 灯台\nSteps: 30, Sampler: PLMS, Seed: 42'],
  ])('keeps %s parameters in a WebP and a JPEG', async (_, parameters) => {
    const png = await encodePng(noisy(width, height), width, height, parameters);
    for (const limit of [Math.floor(png.length * 0.6), 60 * 1024]) {
      const fitted = await fitAttachment(png, { limitBytes: limit, baseName: 'sdbot-test' });
      expect(fitted.reduced).toBe(true);
      expect(['image/webp', 'image/jpeg']).toContain(fitted.contentType);
      expect(await reencodedParameters(fitted.data)).toBe(parameters);
      const { exif } = await sharp(fitted.data).metadata();
      if (/^[\x20-\x7e\n]*$/.test(parameters)) expect(exif?.toString('latin1')).toContain(parameters);
    }
  });

  it('adds nothing to an image without parameters', async () => {
    const png = await encodePng(noisy(width, height), width, height);
    const fitted = await fitAttachment(png, { limitBytes: 60 * 1024, baseName: 'sdbot-test' });
    expect(await reencodedParameters(fitted.data)).toBeNull();
  });
});
