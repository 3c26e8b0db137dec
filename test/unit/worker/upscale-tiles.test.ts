import { describe, expect, it } from 'vitest';
import { SdbotError } from '@sdbot/shared';
import { passesFor } from '../../../worker/src/upscale/enlarge.js';
import { axisTiles, axisWeights, cappedSize } from '../../../worker/src/upscale/tiles.js';
import { layoutTiles, sharedStrips, validateTiling } from '../../../worker/src/upscale/tiles.js';
import { DEFAULT_OVERLAP, DEFAULT_TILE } from '../../../worker/src/upscale/upscaler.js';

describe('tile layout', () => {
  it('uses one tile when the image fits in one', () => {
    expect(layoutTiles(200, 120, 256, 32).tiles).toEqual([{ x: 0, y: 0, width: 200, height: 120 }]);
  });

  it.each([
    [1024, 256, 32],
    [1000, 256, 32],
    [513, 128, 16],
    [300, 64, 31],
  ])('covers %i pixels with tiles of at most %i overlapping by at least %i', (length, tile, overlap) => {
    const { starts, size } = axisTiles(length, tile, overlap);
    expect(size).toBeLessThanOrEqual(tile);
    expect(starts[0]).toBe(0);
    expect((starts.at(-1) ?? 0) + size).toBe(length);
    for (let index = 1; index < starts.length; index += 1) {
      const shared = (starts[index - 1] ?? 0) + size - (starts[index] ?? 0);
      expect(shared).toBeGreaterThanOrEqual(overlap);
      expect(shared).toBeLessThan(size);
    }
  });

  it('spreads tiles evenly instead of leaving a last tile that is mostly overlap', () => {
    // 512 pixels need 3 tiles of at most 256 with 32 shared: 192 each, not 256 each.
    expect(axisTiles(512, 256, 32)).toEqual({ starts: [0, 160, 320], size: 192 });
  });

  it('lays a 1024x1024 input out as a 5 x 5 grid of equal tiles with the defaults', () => {
    const layout = layoutTiles(1024, 1024, DEFAULT_TILE, DEFAULT_OVERLAP);
    expect(layout.tiles).toHaveLength(25);
    for (const tile of layout.tiles) {
      expect(tile.width).toBeLessThanOrEqual(DEFAULT_TILE);
      expect(tile.height).toBe(tile.width);
    }
  });

  it('refuses tiles that are too small or an overlap of half a tile or more', () => {
    expect(() => {
      validateTiling(16, 4);
    }).toThrow(SdbotError);
    expect(() => {
      validateTiling(64, 32);
    }).toThrow(/overlap must be an integer in 0..31/);
    expect(() => {
      validateTiling(64, -1);
    }).toThrow(SdbotError);
    expect(() => {
      validateTiling(64, 31);
    }).not.toThrow();
  });
});

describe('blending weights', () => {
  it('are one where a tile has no neighbour', () => {
    expect([...axisWeights(8, 0, 0, 2)]).toEqual(Array(8).fill(1));
  });

  it('fall to zero at a shared edge and rise over the strip', () => {
    const weights = [...axisWeights(32, 16, 0, 4)];
    expect(weights.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(weights.slice(12)).toEqual(Array(20).fill(1));
    for (let index = 5; index < 12; index += 1) {
      expect(weights[index]).toBeGreaterThan(weights[index - 1] ?? 0);
    }
  });

  it('of two neighbours sum to one at every pixel of the shared strip', () => {
    const layout = layoutTiles(400, 64, 128, 32);
    const scale = 4;
    const margin = 32;
    const sums = new Float64Array(400 * scale);
    for (const tile of layout.tiles) {
      const strips = sharedStrips(tile, layout, scale);
      const weights = axisWeights(tile.width * scale, strips.left, strips.right, margin);
      weights.forEach((weight, index) => {
        sums[tile.x * scale + index] = (sums[tile.x * scale + index] ?? 0) + weight;
      });
    }
    for (const sum of sums) expect(sum).toBeCloseTo(1, 6);
  });
});

describe('sizes and caps', () => {
  it('enlarges by the factor when it fits the cap', () => {
    expect(cappedSize(512, 512, 2, 2048, 2048)).toEqual({ width: 1024, height: 1024 });
  });

  it('stops at the cap, keeping the aspect ratio', () => {
    expect(cappedSize(1024, 512, 4, 2048, 2048)).toEqual({ width: 2048, height: 1024 });
    expect(cappedSize(2048, 2048, 2, 2048, 2048)).toEqual({ width: 2048, height: 2048 });
  });

  it('runs a 2x model twice for 4x and a 4x model once for 2x', () => {
    expect(passesFor({ width: 64, height: 64 }, { width: 256, height: 256 }, 2)).toBe(2);
    expect(passesFor({ width: 64, height: 64 }, { width: 128, height: 128 }, 4)).toBe(1);
    expect(passesFor({ width: 64, height: 64 }, { width: 128, height: 128 }, 2)).toBe(1);
  });
});
