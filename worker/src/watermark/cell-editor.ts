/**
 * Edits the U values of an image's 2x2 cells in whole levels of real pixels, each trial judged by
 * what a decoder computes from the RGB it makes.
 */
import { STEP } from './dwt-dct.js';
import { cellApproximation, type Band } from './haar.js';
import { blueChromaOf, blueShift, greenShift, lumaOf, redChromaOf } from './yuv.js';

/** Largest change of a cell's U sum the correction tries: enough to cross two quantisation steps. */
const MAX_CELL_CHANGE = 3 * STEP;
/** How much a cell's coefficient moves per unit of its U sum when no pixel saturates. */
const FREE_SLOPE = 0.5;
/** A walk measures the slope once the change is this large... */
const STALL_CHANGE = 8;
/** ...and gives up on a cell answering less than this (most of its pixels saturate). */
const MIN_SLOPE = FREE_SLOPE / 4;
/** How far inside a target range a walk aims, so that rounding on the way rarely leaves it. */
export const WALK_INSET = 1;
/** How far past its unsaturated reach a walk still tries to move a cell (rounding, luma shifts). */
export const REACH_SLACK = 2;
/** Trials the correction spends walking one cell towards a target range. */
const MAX_WALK_TRIALS = 16;
/** Order in which a cell's pixels take the remainder of a change: top-left, bottom-right, ... */
const SHARE_RANK = [0, 2, 3, 1];

/** A change of one cell's U sum and what a decoder then reads there. */
export interface CellEdit {
  cell: number;
  change: number;
  value: number;
  /** Squared RGB error of the cell's pixels against the input. */
  error: number;
}

export interface Walk {
  edit: CellEdit | null;
  furthest: number;
}

/**
 * Edits the U values of the image's 2x2 cells (one approximation coefficient each). A change is
 * always relative to the input, and a trial reports what a decoder computes from the RGB it makes.
 */
export class CellEditor {
  readonly output: Uint8Array;
  /** cA as a decoder computes it from `output`. */
  readonly band: Band;
  /** Squared RGB error of each cell against the input. */
  private readonly errors: Float64Array;
  /** Committed change of each cell's U sum. */
  private readonly changes: Int32Array;
  private readonly offsets = new Int32Array(4);
  private readonly read = new Float64Array(4);
  private lastError = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly width: number,
    /** cA of the input. */
    readonly inputBand: Band,
  ) {
    this.output = input.slice();
    this.band = { ...inputBand, data: inputBand.data.slice() };
    this.errors = new Float64Array(inputBand.data.length);
    this.changes = new Int32Array(inputBand.data.length);
  }

  changeOf(cell: number): number {
    return this.changes[cell] ?? 0;
  }

  /** What the cell reads once its U sum changes by `change`, its four pixels sharing it evenly. */
  trial(cell: number, change: number): CellEdit {
    this.visit(cell, change, false);
    return this.editOf(cell, change);
  }

  /** The edit the last visit computed. */
  private editOf(cell: number, change: number): CellEdit {
    const [topLeft, topRight, bottomLeft, bottomRight] = this.read;
    return {
      cell,
      change,
      value: cellApproximation(topLeft ?? 0, topRight ?? 0, bottomLeft ?? 0, bottomRight ?? 0),
      error: this.lastError,
    };
  }

  /** Writes a change found by `trial`. */
  commit(edit: CellEdit): void {
    this.visit(edit.cell, edit.change, true);
    this.record(edit);
  }

  /** Writes a change without a trial first. */
  set(cell: number, change: number): void {
    this.visit(cell, change, true);
    this.record(this.editOf(cell, change));
  }

  private record(edit: CellEdit): void {
    this.band.data[edit.cell] = edit.value;
    this.errors[edit.cell] = edit.error;
    this.changes[edit.cell] = edit.change;
  }

  /** Squared RGB error of the whole output against the input. */
  totalError(): number {
    let total = 0;
    for (const error of this.errors) total += error;
    return total;
  }

  /** Byte offsets of the cell's pixels: top-left, top-right, bottom-left, bottom-right. */
  private locate(cell: number): void {
    const row = Math.floor(cell / this.band.cols);
    const topLeft = (2 * row * this.width + 2 * (cell - row * this.band.cols)) * 3;
    this.offsets[0] = topLeft;
    this.offsets[1] = topLeft + 3;
    this.offsets[2] = topLeft + this.width * 3;
    this.offsets[3] = topLeft + this.width * 3 + 3;
  }

  /** Computes (and with `write`, stores) the cell's pixels after the change. */
  private visit(cell: number, change: number, write: boolean): void {
    this.locate(cell);
    this.lastError = 0;
    for (let k = 0; k < 4; k++) {
      const at = this.offsets[k] ?? 0;
      const r = this.input[at] ?? 0;
      const g = this.input[at + 1] ?? 0;
      const b = this.input[at + 2] ?? 0;
      const luma = lumaOf(r, g, b);
      const u = blueChromaOf(b, luma);
      const delta = pixelShare(change, k);
      if (delta === 0) {
        this.read[k] = u;
        if (write) this.output.set(this.input.subarray(at, at + 3), at);
        continue;
      }
      // Move B and G as OpenCV's inverse transform does for this U change (R does not depend on
      // U). Shifting the pixel, rather than rebuilding it from Y, U and V, keeps what the
      // forward transform clamped away (V of a saturated red) and its rounding.
      const shifted = clampByte(u + delta) - u;
      const g2 = clampByte(g + greenShift(u, redChromaOf(r, luma), shifted));
      const b2 = clampByte(b + blueShift(u, shifted));
      this.read[k] = blueChromaOf(b2, lumaOf(r, g2, b2));
      this.lastError += (g2 - g) ** 2 + (b2 - b) ** 2;
      if (write) {
        this.output[at + 1] = g2;
        this.output[at + 2] = b2;
      }
    }
  }

  /**
   * How far the cell's coefficient can move in `direction` before its pixels' B saturates (B
   * moves by 2.03 per unit of U): past it, the U change is mostly lost.
   */
  freeReach(cell: number, direction: 1 | -1): number {
    this.locate(cell);
    let room = 0;
    for (let k = 0; k < 4; k++) {
      const b = this.input[(this.offsets[k] ?? 0) + 2] ?? 0;
      room += (direction > 0 ? 255 - b : b) / 2.032;
    }
    // A coefficient is half its cell's U sum.
    return room / 2;
  }

  /**
   * A small change moving the cell, in `direction`, to a value in [low, high], aiming just inside
   * the near edge. Without one (the cell's pixels saturate, or it is out of reach), `furthest`
   * says how far it got.
   */
  walk(cell: number, low: number, high: number, direction: 1 | -1): Walk {
    const start = this.inputBand.data[cell] ?? 0;
    if (start >= low && start <= high) return { edit: this.trial(cell, 0), furthest: start };
    let furthest = start;
    if (direction > 0 ? start > high : start < low) return { edit: null, furthest };
    const reach = this.freeReach(cell, direction);
    if (Math.abs((direction > 0 ? low : high) - start) > reach + REACH_SLACK) {
      return { edit: null, furthest: start + direction * reach };
    }
    const aim = direction > 0 ? Math.min(low + WALK_INSET, high) : Math.max(high - WALK_INSET, low);
    // A free cell's coefficient moves by half its U sum change; saturated pixels move it less.
    let change = direction * Math.max(1, Math.round(2 * Math.abs(aim - start)));
    for (let attempt = 0; attempt < MAX_WALK_TRIALS && Math.abs(change) <= MAX_CELL_CHANGE; attempt++) {
      const edit = this.trial(cell, change);
      if (edit.value >= low && edit.value <= high) return { edit, furthest };
      if (direction * (edit.value - furthest) > 0) furthest = edit.value;
      let slope = FREE_SLOPE;
      if (Math.abs(change) >= STALL_CHANGE) {
        slope = (edit.value - start) / change;
        // The cell's pixels saturate and it barely answers: give up rather than push further.
        if (slope < MIN_SLOPE) break;
      }
      const next = change + Math.round((aim - edit.value) / slope);
      change = next === change ? change + Math.sign(aim - edit.value) : next;
    }
    return { edit: null, furthest };
  }
}

/**
 * Part of a cell's U sum change that its pixel `k` (top-left, top-right, bottom-left,
 * bottom-right) takes: an even share, the remainder going to the diagonal first.
 */
function pixelShare(change: number, k: number): number {
  const base = Math.trunc(change / 4);
  const rest = change - 4 * base;
  return base + ((SHARE_RANK[k] ?? 0) < Math.abs(rest) ? Math.sign(rest) : 0);
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : value;
}
