/**
 * Tile layout and blending weights for super-resolution in bounded memory. The input is cut into
 * tiles of at most `tile` x `tile` pixels whose neighbours share `overlap` pixels; each tile is
 * upscaled alone and written into the output with a weight that is zero at the tile's inner edges
 * (where the model lacks context) and rises linearly to one across the shared strip, so neighbours
 * cross-fade and the weights of every output pixel sum to one. Pure arithmetic: no model here.
 */
import { SdbotError } from '@sdbot/shared';

/** One tile, in input pixels. */
export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface TileLayout {
  tile: number;
  overlap: number;
  tiles: Tile[];
}

/** Smallest tile side worth running: below this the overlap dominates the work. */
export const MIN_TILE = 32;

/**
 * Tiles along one axis: as few as cover `length` with at most `tile` pixels each while neighbours
 * share at least `overlap`, all of one size and spread evenly (so no tile is mostly overlap, which
 * would cost model time for nothing), the first at 0 and the last ending at `length`.
 */
export function axisTiles(
  length: number,
  tile: number,
  overlap: number,
  { exact = false }: { exact?: boolean } = {},
): { starts: number[]; size: number } {
  if (length <= tile) return { starts: [0], size: length };
  const count = Math.ceil((length - overlap) / (tile - overlap));
  // A model with a fixed input size takes tiles of exactly that size.
  const size = exact ? tile : Math.ceil((length + (count - 1) * overlap) / count);
  const starts = Array.from({ length: count }, (_, index) =>
    Math.floor((index * (length - size)) / (count - 1)),
  );
  return { starts, size };
}

/** Checks the tile settings; `overlap` must leave each tile some pixels of its own. */
export function validateTiling(tile: number, overlap: number): void {
  if (!Number.isInteger(tile) || tile < MIN_TILE) {
    throw new SdbotError('INVALID_INPUT', `tile must be an integer of at least ${MIN_TILE} (got ${tile})`);
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap * 2 >= tile) {
    throw new SdbotError(
      'INVALID_INPUT',
      `tile overlap must be an integer in 0..${Math.ceil(tile / 2) - 1} for tile ${tile} (got ${overlap})`,
    );
  }
}

/**
 * Tiles covering a width x height input; one tile when the image fits in one. `exact`: every tile
 * is `tile` pixels where the image is at least that large (a model with a fixed input size).
 */
export function layoutTiles(
  width: number,
  height: number,
  tile: number,
  overlap: number,
  { exact = false }: { exact?: boolean } = {},
): TileLayout {
  validateTiling(tile, overlap);
  const columns = axisTiles(width, tile, overlap, { exact });
  const rows = axisTiles(height, tile, overlap, { exact });
  const tiles: Tile[] = [];
  for (const y of rows.starts) {
    for (const x of columns.starts) tiles.push({ x, y, width: columns.size, height: rows.size });
  }
  return { tile, overlap, tiles };
}

/**
 * Weights along one axis of a tile, in output pixels. `before`/`after`: how many output pixels
 * this tile shares with the neighbour on that side (0 at the image border: full weight there).
 * Inside a shared strip the first `margin` pixels from the tile's edge get no weight (the model's
 * output there saw the tile border), the rest rise linearly; the neighbour's weights fall in the
 * same proportion, so the two sum to one at every pixel.
 */
export function axisWeights(length: number, before: number, after: number, margin: number): Float32Array {
  const weights = new Float32Array(length).fill(1);
  const ramp = (distance: number, shared: number): number => {
    const usable = shared - 2 * margin;
    if (usable <= 0) return distance < shared / 2 ? 0 : 1;
    if (distance < margin) return 0;
    if (distance >= shared - margin) return 1;
    return (distance - margin + 0.5) / usable;
  };
  for (let index = 0; index < length; index += 1) {
    if (before > 0 && index < before) weights[index] = Math.min(weights[index] ?? 1, ramp(index, before));
    const fromEnd = length - 1 - index;
    if (after > 0 && fromEnd < after) weights[index] = Math.min(weights[index] ?? 1, ramp(fromEnd, after));
  }
  return weights;
}

/** The output pixels a tile shares with its neighbours on each side (0 at the image border). */
export function sharedStrips(
  tile: Tile,
  layout: TileLayout,
  scale: number,
): { left: number; right: number; top: number; bottom: number } {
  let left = 0;
  let right = 0;
  let top = 0;
  let bottom = 0;
  for (const other of layout.tiles) {
    if (other === tile) continue;
    const sameRow = other.y === tile.y;
    const sameColumn = other.x === tile.x;
    if (sameRow && other.x < tile.x && other.x + other.width > tile.x) {
      left = Math.max(left, other.x + other.width - tile.x);
    }
    if (sameRow && other.x > tile.x && other.x < tile.x + tile.width) {
      right = Math.max(right, tile.x + tile.width - other.x);
    }
    if (sameColumn && other.y < tile.y && other.y + other.height > tile.y) {
      top = Math.max(top, other.y + other.height - tile.y);
    }
    if (sameColumn && other.y > tile.y && other.y < tile.y + tile.height) {
      bottom = Math.max(bottom, tile.y + tile.height - other.y);
    }
  }
  return { left: left * scale, right: right * scale, top: top * scale, bottom: bottom * scale };
}

/** Output size of an upscale by `factor` capped to fit `maxWidth` x `maxHeight`, keeping aspect. */
export function cappedSize(
  width: number,
  height: number,
  factor: number,
  maxWidth: number,
  maxHeight: number,
): { width: number; height: number } {
  const fit = Math.min(factor, maxWidth / width, maxHeight / height);
  if (fit <= 1) return { width, height };
  return { width: Math.max(1, Math.floor(width * fit)), height: Math.max(1, Math.floor(height * fit)) };
}
