/**
 * How a decoder reads one 4x4 block of coefficients, and the ways (remedies) to make a block read
 * its bit: the arithmetic the embedder's aim and correction passes share.
 */
import { BLOCK, coefficientIndex, STEP, type Layout } from './dwt-dct.js';
import type { Band } from './haar.js';

/** Distance every carrier keeps from the thresholds at 0, 18 and 36 (coefficient units). */
export const BIT_MARGIN = 3;
/** Coefficients within this of a block's largest could be read as its carrier by a decoder. */
export const CONTENDER_MARGIN = 2;
export const POSITIONS = BLOCK * BLOCK;

/** Values a carrier may take within one quantisation step to read `bit` with BIT_MARGIN. */
function bitZone(bit: number): [number, number] {
  const half = STEP / 2;
  return bit === 1 ? [half + BIT_MARGIN, STEP - BIT_MARGIN] : [BIT_MARGIN, half - BIT_MARGIN];
}

function readsWithMargin(value: number, bit: number): boolean {
  const [low, high] = bitZone(bit);
  const phase = Math.abs(value) % STEP;
  return phase >= low && phase <= high;
}

/**
 * Whether a decoder reads `bit` from a block (values by position; position 0 never carries) with
 * room to spare: every coefficient close enough to the largest to be taken for the carrier, should
 * the last bits of the arithmetic differ, reads the bit with BIT_MARGIN.
 */
export function readsRobustly(values: Float64Array, bit: number): boolean {
  let largest = 0;
  for (let position = 1; position < POSITIONS; position++)
    largest = Math.max(largest, Math.abs(values[position] ?? 0));
  for (let position = 1; position < POSITIONS; position++) {
    const value = values[position] ?? 0;
    if (Math.abs(value) >= largest - CONTENDER_MARGIN && !readsWithMargin(value, bit)) return false;
  }
  return true;
}

/** Band offsets of the block's 16 coefficients, by position. */
export function blockCells(band: Band, layout: Layout, block: number, into: Int32Array): void {
  for (let position = 0; position < POSITIONS; position++) {
    into[position] = coefficientIndex(band, layout.blockCols, block, position);
  }
}

export function gather(band: Band, cells: Int32Array, into: Float64Array): Float64Array {
  for (let position = 0; position < POSITIONS; position++)
    into[position] = band.data[cells[position] ?? 0] ?? 0;
  return into;
}

/** Remedy position meaning "every coefficient above `to`" (position 0 never carries a bit). */
export const EVERY_ABOVE = 0;

/**
 * A way to make a block read its bit: walk the coefficient at `position` (or, for EVERY_ABOVE,
 * each coefficient above `to`) into [from, to].
 */
export interface Remedy {
  position: number;
  from: number;
  to: number;
  direction: 1 | -1;
  /** Lower bound of its squared RGB error, to skip remedies that cannot win. */
  bound: number;
}

/** Positions a remedy moves, given the block's values. */
export function remedyPositions(remedy: Remedy, values: Float64Array): number[] {
  if (remedy.position !== EVERY_ABOVE) return [remedy.position];
  const positions: number[] = [];
  for (let position = 1; position < POSITIONS; position++) {
    if ((values[position] ?? 0) > remedy.to) positions.push(position);
  }
  return positions;
}

/**
 * Lower bound of the squared RGB error of moving a coefficient by `distance`: its cell's U sum
 * must move by T >= 2 * distance; a unit of U moves B by 2 (and G by about -0.4), so each unit
 * costs at least 4, and spread over four pixels the cost grows as about 1.07 T^2.
 */
function errorBound(distance: number): number {
  const units = Math.ceil(2 * distance - 1e-9);
  return 0.9 * Math.max(4 * units, units * units);
}

/**
 * Calls `visit` with every way to fix a block: move one coefficient to the nearest value above,
 * or below, that reads `bit` and clears every other coefficient by CONTENDER_MARGIN, or lower
 * every coefficient above a zone into it (for pixels that cannot move up: a blue sky, white).
 */
export function forEachRemedy(
  values: Float64Array,
  bit: number,
  visit: (remedy: Readonly<Remedy>) => void,
): void {
  const [low, high] = bitZone(bit);
  let largestPosition = 1;
  for (let position = 2; position < POSITIONS; position++) {
    if ((values[position] ?? 0) > (values[largestPosition] ?? 0)) largestPosition = position;
  }
  const largest = values[largestPosition] ?? 0;
  let runnerUp = 0;
  for (let position = 1; position < POSITIONS; position++) {
    if (position !== largestPosition) runnerUp = Math.max(runnerUp, values[position] ?? 0);
  }
  // One object reused for every candidate: callers copy the ones they keep.
  const candidate: Remedy = { position: 0, from: 0, to: 0, direction: 1, bound: 0 };

  for (let position = 1; position < POSITIONS; position++) {
    const value = values[position] ?? 0;
    const floor = (position === largestPosition ? runnerUp : largest) + CONTENDER_MARGIN + 0.5;
    const step = Math.floor(value / STEP);
    // The nearest zone upwards (it may hold the value) and the nearest downwards.
    let upZone = Number.NaN;
    let downZone = Number.NaN;
    for (let zone = step - 1; zone <= step + 2; zone++) {
      const from = Math.max(zone * STEP + low, floor);
      const to = zone * STEP + high;
      if (from > to) continue;
      if (value > to) downZone = zone;
      else if (Number.isNaN(upZone)) upZone = zone;
    }
    for (let side = 0; side < 2; side++) {
      const zone = side === 0 ? upZone : downZone;
      if (Number.isNaN(zone)) continue;
      candidate.position = position;
      candidate.from = Math.max(zone * STEP + low, floor);
      candidate.to = zone * STEP + high;
      candidate.direction = value > candidate.to ? -1 : 1;
      candidate.bound = errorBound(
        value < candidate.from ? candidate.from - value : Math.max(0, value - candidate.to),
      );
      visit(candidate);
    }
  }

  const top = Math.floor(largest / STEP);
  for (let zone = top; zone >= top - 1; zone--) {
    const from = zone * STEP + low + CONTENDER_MARGIN;
    const to = zone * STEP + high;
    if (to >= largest || from > to) continue;
    let bound = 0;
    for (let position = 1; position < POSITIONS; position++) {
      const value = values[position] ?? 0;
      if (value > to) bound += errorBound(value - to);
    }
    candidate.position = EVERY_ABOVE;
    candidate.from = from;
    candidate.to = to;
    candidate.direction = -1;
    candidate.bound = bound;
    visit(candidate);
  }
}

/** Every remedy of a block, cheapest bound first. */
export function remediesFor(values: Float64Array, bit: number): Remedy[] {
  const remedies: Remedy[] = [];
  forEachRemedy(values, bit, (remedy) => remedies.push({ ...remedy }));
  return remedies.sort((a, b) => a.bound - b.bound);
}
