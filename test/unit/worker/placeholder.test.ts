import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@sdbot/shared';
import { drawnLabelSvg, filteredPlaceholder, textLabelSvg } from '../../../worker/src/safety/placeholder.js';

async function pixels(
  png: Buffer,
): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function luma(data: Buffer, pixel: number): number {
  return (
    0.299 * (data[pixel * 3] ?? 0) + 0.587 * (data[pixel * 3 + 1] ?? 0) + 0.114 * (data[pixel * 3 + 2] ?? 0)
  );
}

/** Pixels with any coverage in an SVG rendered on its own. */
async function inkOf(svg: string): Promise<number> {
  const alpha = await sharp(Buffer.from(svg)).ensureAlpha().extractChannel(3).raw().toBuffer();
  return alpha.reduce((count, value) => count + (value > 0 ? 1 : 0), 0);
}

describe('filtered-image placeholder', () => {
  it('is a PNG of the flagged image size, dark overall, with a bright label across the middle', async () => {
    for (const [width, height] of [
      [512, 512],
      [768, 512],
      [512, 1024],
      [64, 64],
    ] as const) {
      const png = await filteredPlaceholder(width, height);
      expect((await sharp(png).metadata()).format).toBe('png');
      const { data, ...size } = await pixels(png);
      expect(size).toEqual({ width, height, channels: 3 });
      let total = 0;
      let brightInBand = 0;
      for (let p = 0; p < width * height; p++) {
        const value = luma(data, p);
        total += value;
        const y = Math.floor(p / width);
        if (Math.abs(y - height / 2) < height / 10 && value > 200) brightInBand++;
      }
      expect(total / (width * height), `${width}x${height} mean brightness`).toBeLessThan(80);
      expect(brightInBand, `${width}x${height} label pixels`).toBeGreaterThan(width * height * 0.005);
    }
  });

  it('depends on the size only: every flagged image of a size gets the same bytes', async () => {
    const [first, second] = await Promise.all([filteredPlaceholder(640, 448), filteredPlaceholder(640, 448)]);
    expect(first.equals(second)).toBe(true);
    expect(first.equals(await filteredPlaceholder(448, 640))).toBe(false);
  });

  it('draws the label with strokes when no font renders SVG text', async () => {
    const drawn = drawnLabelSvg(512, 512);
    expect(drawn).not.toContain('<text');
    expect(await inkOf(drawn)).toBeGreaterThan(1000);
    expect(textLabelSvg(512, 512)).toContain('>filtered</text>');
  });

  it('rejects sizes that are not whole pixel counts in range, naming the field', async () => {
    await expect(filteredPlaceholder(0, 512)).rejects.toThrow(ValidationError);
    await expect(filteredPlaceholder(512, 12.5)).rejects.toThrow(/height/);
    await expect(filteredPlaceholder(4096, 512)).rejects.toThrow(/width/);
  });
});
