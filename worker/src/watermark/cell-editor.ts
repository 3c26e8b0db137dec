/**
 * Edits the U values of an image's 2x2 cells in whole levels of real pixels, each trial judged by
 * what a decoder computes from the RGB it makes. The search runs hundreds of thousands of trials an
 * image, so trials allocate nothing: results land in fields and in caller-owned `Walk`s.
 */
import { blueChromaBand, cellBlueChroma, STEP, type Layout } from './dwt-dct.js';
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
/** Room of a B value to move, in U units (B moves by 2.032 per unit of U), by the room in B. */
const BLUE_ROOM = Float64Array.from({ length: 256 }, (_, room) => room / 2.032);

/** What a walk found: a change of the cell's U sum reaching the range, or how far the cell got. */
export class Walk {
  found = false;
  change = 0;
  /** What a decoder reads at the cell after the change. */
  value = 0;
  /** Squared RGB error of the cell's pixels against the input after the change. */
  error = 0;
  /** Without a change found: the furthest value the cell reached towards the range. */
  furthest = 0;

  copyFrom(other: Walk): void {
    this.found = other.found;
    this.change = other.change;
    this.value = other.value;
    this.error = other.error;
    this.furthest = other.furthest;
  }
}

/**
 * An editor's per-cell arrays. Embedding is synchronous, so one set serves every image of a size:
 * the arrays of the last size (about 29 bytes a cell, 1.9 MB at 512x512) are kept and handed out
 * again, zeroed, rather than allocated for each image.
 */
class EditorBuffers {
  private static last: EditorBuffers | null = null;
  /** cA of the input, and the band being edited (a copy of it), both filled by the editor. */
  readonly inputBand: Float64Array;
  readonly band: Float64Array;
  readonly errors: Int32Array;
  readonly changes: Int32Array;
  readonly written: Uint8Array;
  /** Byte offset of each cell's top-left pixel, looked up rather than divided out on every trial. */
  readonly offsets: Int32Array;

  private constructor(
    readonly rows: number,
    readonly cols: number,
    readonly width: number,
  ) {
    const cells = rows * cols;
    this.inputBand = new Float64Array(cells);
    this.band = new Float64Array(cells);
    this.errors = new Int32Array(cells);
    this.changes = new Int32Array(cells);
    this.written = new Uint8Array(cells);
    this.offsets = new Int32Array(cells);
    const rowBytes = width * 3;
    for (let row = 0, cell = 0; row < rows; row++) {
      const rowStart = 2 * row * rowBytes;
      for (let col = 0; col < cols; col++, cell++) this.offsets[cell] = rowStart + 6 * col;
    }
  }

  /** Zeroed arrays for the layout's band in an image this wide. */
  static for(layout: Layout, width: number): EditorBuffers {
    const rows = layout.regionRows / 2;
    const cols = layout.regionCols / 2;
    const last = EditorBuffers.last;
    if (last !== null && last.rows === rows && last.cols === cols && last.width === width) {
      last.errors.fill(0);
      last.changes.fill(0);
      last.written.fill(0);
      return last;
    }
    EditorBuffers.last = new EditorBuffers(rows, cols, width);
    return EditorBuffers.last;
  }
}

/**
 * Edits the U values of the image's 2x2 cells (one approximation coefficient each). A change is
 * always relative to the input, and a trial reports what a decoder computes from the RGB it makes.
 * Its per-cell arrays go to the next editor of the same size: one editor is in use at a time.
 */
export class CellEditor {
  readonly output: Uint8Array;
  /** cA as a decoder computes it from `output`. */
  readonly band: Band;
  /** Squared RGB error of each cell against the input (whole numbers, so sums are exact). */
  private readonly errors: Int32Array;
  private total = 0;
  /** Committed change of each cell's U sum. */
  private readonly changes: Int32Array;
  /** 1 for each cell whose pixels have been written. */
  private readonly written: Uint8Array;
  private readonly rowBytes: number;
  /** Byte offset of each cell's top-left pixel. */
  private readonly offsets: Int32Array;
  /** Squared RGB error of the cell the last trial visited. */
  private lastError = 0;

  /** cA of the input. */
  readonly inputBand: Band;

  constructor(
    private readonly input: Uint8Array,
    width: number,
    layout: Layout,
  ) {
    this.output = input.slice();
    const buffers = EditorBuffers.for(layout, width);
    this.inputBand = blueChromaBand(input, width, layout, buffers.inputBand);
    buffers.band.set(buffers.inputBand);
    this.band = { ...this.inputBand, data: buffers.band };
    this.errors = buffers.errors;
    this.changes = buffers.changes;
    this.written = buffers.written;
    this.rowBytes = width * 3;
    this.offsets = buffers.offsets;
  }

  changeOf(cell: number): number {
    return this.changes[cell] ?? 0;
  }

  /** Writes the cell's pixels for a change of its U sum (0: back to the input). */
  set(cell: number, change: number): void {
    this.band.data[cell] = this.visit(this.topLeft(cell), change, true);
    this.total += this.lastError - (this.errors[cell] ?? 0);
    this.errors[cell] = this.lastError;
    this.changes[cell] = change;
    this.written[cell] = 1;
  }

  /** Squared RGB error of the whole output against the input. */
  totalError(): number {
    return this.total;
  }

  /**
   * Reads every cell whose pixels were written again from `output`, with the decoder's own
   * arithmetic, into `band`: with the cells never written (their pixels are the input's, which
   * `inputBand` was read from), `band` is then what a decoder reads from `output`, whatever the
   * bookkeeping of the edits said.
   */
  rereadWritten(): void {
    const { written } = this;
    for (let cell = 0; cell < written.length; cell++) {
      if (written[cell] === 1)
        this.band.data[cell] = cellBlueChroma(this.output, this.topLeft(cell), this.rowBytes);
    }
  }

  /** Whether two cells' input pixels are identical (then so is everything a trial computes). */
  sameInput(cell: number, other: number): boolean {
    const { input, rowBytes } = this;
    const at = this.topLeft(cell);
    const otherAt = this.topLeft(other);
    for (let offset = 0; offset < 6; offset++) {
      if (input[at + offset] !== input[otherAt + offset]) return false;
      if (input[at + rowBytes + offset] !== input[otherAt + rowBytes + offset]) return false;
    }
    return true;
  }

  /** The cell's input pixels as a string (two bytes a character): equal for cells alike. */
  inputKey(cell: number): string {
    const { input } = this;
    const at = this.topLeft(cell);
    const below = at + this.rowBytes;
    return String.fromCharCode(
      ((input[at] ?? 0) << 8) | (input[at + 1] ?? 0),
      ((input[at + 2] ?? 0) << 8) | (input[at + 3] ?? 0),
      ((input[at + 4] ?? 0) << 8) | (input[at + 5] ?? 0),
      ((input[below] ?? 0) << 8) | (input[below + 1] ?? 0),
      ((input[below + 2] ?? 0) << 8) | (input[below + 3] ?? 0),
      ((input[below + 4] ?? 0) << 8) | (input[below + 5] ?? 0),
    );
  }

  /** Byte offset of the cell's top-left pixel. */
  private topLeft(cell: number): number {
    return this.offsets[cell] ?? 0;
  }

  /**
   * What a decoder reads at the cell whose top-left pixel is at byte offset `at` once its U sum
   * changes by `change`: an even share for each pixel, the remainder going to the top-left, then
   * the bottom-right, bottom-left and top-right. With `write`, the pixels are stored in `output`.
   * Leaves the error in `lastError`.
   */
  private visit(at: number, change: number, write: boolean): number {
    const below = at + this.rowBytes;
    const share = Math.trunc(change / 4);
    const rest = change - 4 * share;
    const sign = Math.sign(rest);
    const left = Math.abs(rest);
    this.lastError = 0;
    const topLeft = this.pixel(at, left > 0 ? share + sign : share, write);
    const topRight = this.pixel(at + 3, left > 2 ? share + sign : share, write);
    const bottomLeft = this.pixel(below, left > 3 ? share + sign : share, write);
    const bottomRight = this.pixel(below + 3, left > 1 ? share + sign : share, write);
    return cellApproximation(topLeft, topRight, bottomLeft, bottomRight);
  }

  /** U a decoder reads at the pixel at byte offset `at` once its U moves by `delta`. */
  private pixel(at: number, delta: number, write: boolean): number {
    const { input, output } = this;
    const r = input[at] ?? 0;
    const g = input[at + 1] ?? 0;
    const b = input[at + 2] ?? 0;
    const luma = lumaOf(r, g, b);
    const u = blueChromaOf(b, luma);
    if (delta === 0) {
      if (write) {
        output[at] = r;
        output[at + 1] = g;
        output[at + 2] = b;
      }
      return u;
    }
    // Move B and G as OpenCV's inverse transform does for this U change (R does not depend on
    // U). Shifting the pixel, rather than rebuilding it from Y, U and V, keeps what the
    // forward transform clamped away (V of a saturated red) and its rounding.
    const shifted = clampByte(u + delta) - u;
    const g2 = clampByte(g + greenShift(u, redChromaOf(r, luma), shifted));
    const b2 = clampByte(b + blueShift(u, shifted));
    this.lastError += (g2 - g) * (g2 - g) + (b2 - b) * (b2 - b);
    if (write) {
      output[at + 1] = g2;
      output[at + 2] = b2;
    }
    return blueChromaOf(b2, lumaOf(r, g2, b2));
  }

  /**
   * How far the cell's coefficient can move in `direction` before its pixels' B saturates (B
   * moves by 2.03 per unit of U): past it, the U change is mostly lost.
   */
  freeReach(cell: number, direction: 1 | -1): number {
    return this.reachFrom(this.topLeft(cell), direction);
  }

  private reachFrom(at: number, direction: 1 | -1): number {
    const below = at + this.rowBytes;
    let room = 0;
    room += this.blueRoom(at, direction);
    room += this.blueRoom(at + 3, direction);
    room += this.blueRoom(below, direction);
    room += this.blueRoom(below + 3, direction);
    // A coefficient is half its cell's U sum.
    return room / 2;
  }

  private blueRoom(at: number, direction: 1 | -1): number {
    const b = this.input[at + 2] ?? 0;
    return BLUE_ROOM[direction > 0 ? 255 - b : b] ?? 0;
  }

  /**
   * Looks for a small change moving the cell, in `direction`, to a value in [low, high], aiming
   * just inside the near edge, and says what it found in `into`. Without one (the cell's pixels
   * saturate, or it is out of reach), `into.furthest` says how far it got.
   */
  walk(cell: number, low: number, high: number, direction: 1 | -1, into: Walk): boolean {
    const start = this.inputBand.data[cell] ?? 0;
    into.found = false;
    into.furthest = start;
    // Unchanged, the cell reads its input value.
    if (start >= low && start <= high) return this.found(into, 0, start, 0);
    if (direction > 0 ? start > high : start < low) return false;
    const at = this.topLeft(cell);
    const reach = this.reachFrom(at, direction);
    if (Math.abs((direction > 0 ? low : high) - start) > reach + REACH_SLACK) {
      into.furthest = start + direction * reach;
      return false;
    }
    const aim = direction > 0 ? Math.min(low + WALK_INSET, high) : Math.max(high - WALK_INSET, low);
    // A free cell's coefficient moves by half its U sum change; saturated pixels move it less.
    let change = direction * Math.max(1, Math.round(2 * Math.abs(aim - start)));
    for (let attempt = 0; attempt < MAX_WALK_TRIALS && Math.abs(change) <= MAX_CELL_CHANGE; attempt++) {
      const value = this.visit(at, change, false);
      if (value >= low && value <= high) return this.found(into, change, value, this.lastError);
      if (direction * (value - into.furthest) > 0) into.furthest = value;
      let slope = FREE_SLOPE;
      if (Math.abs(change) >= STALL_CHANGE) {
        slope = (value - start) / change;
        // The cell's pixels saturate and it barely answers: give up rather than push further.
        if (slope < MIN_SLOPE) break;
      }
      const next = change + Math.round((aim - value) / slope);
      change = next === change ? change + Math.sign(aim - value) : next;
    }
    return false;
  }

  private found(into: Walk, change: number, value: number, error: number): true {
    into.found = true;
    into.change = change;
    into.value = value;
    into.error = error;
    return true;
  }
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : value;
}
