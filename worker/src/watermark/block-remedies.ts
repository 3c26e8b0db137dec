/**
 * How a decoder reads one 4x4 block of coefficients, and the ways (remedies) to make a block read
 * its bit: the arithmetic the embedder's aim and correction passes share.
 */
import { BLOCK, phaseOf, STEP, type Layout } from './dwt-dct.js';
import type { Band } from './haar.js';

/** Distance every carrier keeps from the thresholds at 0, 18 and 36 (coefficient units). */
export const BIT_MARGIN = 3;
/** Coefficients within this of a block's largest could be read as its carrier by a decoder. */
export const CONTENDER_MARGIN = 2;
export const POSITIONS = BLOCK * BLOCK;

/** Values a carrier may take within one quantisation step to read `bit` with BIT_MARGIN. */
function zoneLow(bit: number): number {
  return bit === 1 ? STEP / 2 + BIT_MARGIN : BIT_MARGIN;
}

function zoneHigh(bit: number): number {
  return bit === 1 ? STEP - BIT_MARGIN : STEP / 2 - BIT_MARGIN;
}

function readsWithMargin(value: number, bit: number): boolean {
  const phase = phaseOf(value);
  return phase >= zoneLow(bit) && phase <= zoneHigh(bit);
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
  const blockRow = Math.floor(block / layout.blockCols);
  const topLeft = blockRow * BLOCK * band.cols + (block - blockRow * layout.blockCols) * BLOCK;
  for (let position = 0; position < POSITIONS; position++) {
    into[position] = topLeft + (position >> 2) * band.cols + (position & 3);
  }
}

export function gather(band: Band, cells: Int32Array, into: Float64Array): Float64Array {
  for (let position = 0; position < POSITIONS; position++)
    into[position] = band.data[cells[position] ?? 0] ?? 0;
  return into;
}

/** Remedy position meaning "every coefficient above `to`" (position 0 never carries a bit). */
export const EVERY_ABOVE = 0;

/** No zone found. */
const NO_ZONE = 0x7fffffff;

/** Remedies a block can have: two per carrying position, and two that lower every coefficient. */
const MAX_REMEDIES = 2 * (POSITIONS - 1) + 2;

/**
 * The ways to make one block read its bit, as parallel arrays in the order they were found. Remedy
 * `i` walks the coefficient at `position[i]` (or, for EVERY_ABOVE, each coefficient above
 * `to[i]`) into [from[i], to[i]], moving it in `direction[i]`; `bound[i]` is a lower bound of its
 * squared RGB error, to skip remedies that cannot win.
 */
export class RemedyList {
  count = 0;
  readonly position = new Int32Array(MAX_REMEDIES);
  readonly from = new Float64Array(MAX_REMEDIES);
  readonly to = new Float64Array(MAX_REMEDIES);
  readonly direction = new Int8Array(MAX_REMEDIES);
  readonly bound = new Float64Array(MAX_REMEDIES);
  /** Remedy indices, cheapest bound first and ties in the order found, after `sortByBound`. */
  readonly order = new Int32Array(MAX_REMEDIES);
  /** Remedies whose bound is this or more are left out (a search that stops below it). */
  private maxBound = Number.POSITIVE_INFINITY;

  directionOf(remedy: number): 1 | -1 {
    return (this.direction[remedy] ?? 1) > 0 ? 1 : -1;
  }

  private add(position: number, from: number, to: number, direction: 1 | -1, bound: number): void {
    if (bound >= this.maxBound) return;
    const index = this.count++;
    this.position[index] = position;
    this.from[index] = from;
    this.to[index] = to;
    this.direction[index] = direction;
    this.bound[index] = bound;
  }

  /**
   * Every way to fix a block: move one coefficient to the nearest value above, or below, that reads
   * `bit` and clears every other coefficient by CONTENDER_MARGIN, or lower every coefficient above
   * a zone into it (for pixels that cannot move up: a blue sky, white). Only those whose bound is
   * under `maxBound`, for a search that never tries the others.
   */
  list(values: Float64Array, bit: number, maxBound = Number.POSITIVE_INFINITY): this {
    this.count = 0;
    this.maxBound = maxBound;
    const low = zoneLow(bit);
    const high = zoneHigh(bit);
    // The largest value (first on ties) and the largest of the others, never under 0.
    let largestPosition = 1;
    let largest = values[1] ?? 0;
    let runnerUp = 0;
    for (let position = 2; position < POSITIONS; position++) {
      const value = values[position] ?? 0;
      if (value > largest) {
        runnerUp = Math.max(runnerUp, largest);
        largest = value;
        largestPosition = position;
      } else runnerUp = Math.max(runnerUp, value);
    }

    for (let position = 1; position < POSITIONS; position++) {
      const value = values[position] ?? 0;
      const floor = (position === largestPosition ? runnerUp : largest) + CONTENDER_MARGIN + 0.5;
      // The nearest zone downwards and the nearest upwards (it may hold the value), among the
      // zones of this step and its neighbours whose range clears `floor`.
      const step = Math.floor(value / STEP);
      let downZone = NO_ZONE;
      let upZone = NO_ZONE;
      for (let zone = step - 1; zone <= step + 2; zone++) {
        const to = zone * STEP + high;
        // A zone's range starts below its end, so it clears `floor` when its end does.
        if (floor > to) continue;
        if (value <= to) {
          upZone = zone;
          break;
        }
        downZone = zone;
      }
      if (upZone !== NO_ZONE) this.addZone(position, value, upZone, low, high, floor);
      if (downZone !== NO_ZONE) this.addZone(position, value, downZone, low, high, floor);
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
      this.add(EVERY_ABOVE, from, to, -1, bound);
    }
    return this;
  }

  /** Adds the remedy moving the coefficient at `position` into `zone`'s range above `floor`. */
  private addZone(
    position: number,
    value: number,
    zone: number,
    low: number,
    high: number,
    floor: number,
  ): void {
    const from = Math.max(zone * STEP + low, floor);
    const to = zone * STEP + high;
    const bound = errorBound(value < from ? from - value : Math.max(0, value - to));
    this.add(position, from, to, value > to ? -1 : 1, bound);
  }

  /** Fills `order`: a stable insertion sort of at most 32 remedies by bound. */
  sortByBound(): this {
    const { order, bound } = this;
    for (let i = 0; i < this.count; i++) {
      const key = bound[i] ?? 0;
      let j = i;
      while (j > 0 && (bound[order[j - 1] ?? 0] ?? 0) > key) {
        order[j] = order[j - 1] ?? 0;
        j--;
      }
      order[j] = i;
    }
    return this;
  }

  /** Writes the positions remedy `remedy` moves, given the block's values, and returns how many. */
  positionsOf(remedy: number, values: Float64Array, into: Int32Array): number {
    const position = this.position[remedy] ?? 0;
    if (position !== EVERY_ABOVE) {
      into[0] = position;
      return 1;
    }
    const to = this.to[remedy] ?? 0;
    let count = 0;
    for (let candidate = 1; candidate < POSITIONS; candidate++) {
      if ((values[candidate] ?? 0) > to) into[count++] = candidate;
    }
    return count;
  }
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
