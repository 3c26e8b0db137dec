/**
 * A `dwtDct` embedder that the reference decoder reads back exactly. The reference embedder
 * quantises a float coefficient, then loses the change to uint8 truncation, the RGB round trip
 * and argmax flips, so most real images do not decode to their payload. Here every change is made
 * in whole U levels of real pixels (Y and V kept) and judged by what a decoder computes from the
 * resulting RGB:
 * 1. aim: each block that does not already read its bit moves its carrier to the nearest value
 *    that reads the bit with a margin and stays the block's largest coefficient;
 * 2. verify: every block is read back as a decoder would read the output;
 * 3. correct: blocks that did not take (saturated pixels clamp, ties move the argmax) are
 *    re-embedded from their input by an exact search over single-coefficient moves and "lower
 *    the whole block" moves. Cheap corrections are always applied; dear ones (flat saturated
 *    areas where all sixteen coefficients must move) only until 3/4 of each bit's blocks carry
 *    it, which keeps the majority vote safe without spending the image's quality;
 * 4. prove: the output is decoded from scratch and the bit errors reported.
 */
import {
  assertImageSize,
  blueChromaBand,
  BLOCK,
  coefficientIndex,
  layoutOf,
  MIN_PIXELS,
  readBlockBits,
  readoutOf,
  STEP,
  voteBits,
  type Layout,
} from './dwt-dct.js';
import { cellApproximation, type Band } from './haar.js';
import { DEFAULT_WATERMARK_TEXT, payloadBits } from './payload.js';
import { blueChromaOf, lumaOf, packedRgbOfYuv, redChromaOf } from './yuv.js';

/** Distance every carrier keeps from the thresholds at 0, 18 and 36 (coefficient units). */
const BIT_MARGIN = 3;
/** Coefficients within this of a block's largest could be read as its carrier by a decoder. */
const CONTENDER_MARGIN = 2;
/** Extra distance the first pass aims for, so the RGB round trip rarely pushes a block out. */
const AIM_SLACK = 1;
/** Largest change of a cell's U sum the correction tries: enough to cross two quantisation steps. */
const MAX_CELL_CHANGE = 3 * STEP;
/** How much a cell's coefficient moves per unit of its U sum when no pixel saturates. */
const FREE_SLOPE = 0.5;
/** A walk measures the slope once the change is this large... */
const STALL_CHANGE = 8;
/** ...and gives up on a cell answering less than this (most of its pixels saturate). */
const MIN_SLOPE = FREE_SLOPE / 4;
/** How far inside a target range a walk aims, so that rounding on the way rarely leaves it. */
const WALK_INSET = 1;
/** Trials the correction spends walking one cell towards a target range. */
const MAX_WALK_TRIALS = 16;
const POSITIONS = BLOCK * BLOCK;
/** Squared RGB error of a correction always worth making (a block's MSE of about 5). */
const CHEAP_CORRECTION = 1000;
/** Share of each bit's blocks that must read it before dearer corrections are skipped. */
const SAFE_VOTE_SHARE = 0.75;
/** Order in which a cell's pixels take the remainder of a change: top-left, bottom-right, ... */
const SHARE_RANK = [0, 2, 3, 1];

export interface EmbedResult {
  /** The watermarked RGB image (HWC, uint8); a copy of the input when not watermarked. */
  rgb: Uint8Array;
  watermarked: boolean;
  /** Why the image was left unmarked. */
  reason?: string;
  /** Payload bits the reference decoder reads wrong from `rgb` (all of them when not watermarked). */
  bitErrors: number;
  /** Peak signal-to-noise ratio of `rgb` against the input, in dB (Infinity when unchanged). */
  psnr: number;
  /** Blocks re-embedded because their first embedding did not read back. */
  corrections: number;
}

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
function readsRobustly(values: Float64Array, bit: number): boolean {
  let largest = 0;
  for (let position = 1; position < POSITIONS; position++)
    largest = Math.max(largest, Math.abs(values[position] ?? 0));
  for (let position = 1; position < POSITIONS; position++) {
    const value = values[position] ?? 0;
    if (Math.abs(value) >= largest - CONTENDER_MARGIN && !readsWithMargin(value, bit)) return false;
  }
  return true;
}

/** The value nearest `value` that reads `bit` with margin to spare and is at least `floor`. */
function nearestCarrierValue(value: number, bit: number, floor: number): number {
  const [low, high] = bitZone(bit);
  let best = Number.POSITIVE_INFINITY;
  const lastStep = Math.floor(Math.max(value, floor) / STEP) + 1;
  for (let step = Math.max(0, Math.floor(value / STEP) - 1); step <= lastStep; step++) {
    const from = Math.max(step * STEP + low + AIM_SLACK, floor);
    const to = step * STEP + high - AIM_SLACK;
    if (from > to) continue;
    const candidate = Math.min(Math.max(value, from), to);
    if (Math.abs(candidate - value) < Math.abs(best - value)) best = candidate;
  }
  return best;
}

/** A change of one cell's U sum and what a decoder then reads there. */
interface CellEdit {
  cell: number;
  change: number;
  value: number;
  /** Squared RGB error of the cell's pixels against the input. */
  error: number;
}

/**
 * Edits the U values of the image's 2x2 cells (one approximation coefficient each). A change is
 * always relative to the input, and a trial reports what a decoder computes from the RGB it makes.
 */
class CellEditor {
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
    const [topLeft, topRight, bottomLeft, bottomRight] = this.read;
    return {
      cell,
      change,
      value: cellApproximation(topLeft ?? 0, topRight ?? 0, bottomLeft ?? 0, bottomRight ?? 0),
      error: this.lastError,
    };
  }

  commit(edit: CellEdit): void {
    this.visit(edit.cell, edit.change, true);
    this.band.data[edit.cell] = edit.value;
    this.errors[edit.cell] = edit.error;
    this.changes[edit.cell] = edit.change;
  }

  /** Squared RGB error of the whole output against the input. */
  totalError(): number {
    return this.errors.reduce((sum, error) => sum + error, 0);
  }

  /** Computes (and with `write`, stores) the cell's pixels after the change. */
  private visit(cell: number, change: number, write: boolean): void {
    const row = Math.floor(cell / this.band.cols);
    const topLeft = (2 * row * this.width + 2 * (cell - row * this.band.cols)) * 3;
    this.offsets[0] = topLeft;
    this.offsets[1] = topLeft + 3;
    this.offsets[2] = topLeft + this.width * 3;
    this.offsets[3] = topLeft + this.width * 3 + 3;
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
      // Y and V stay; only the chroma the watermark lives in moves.
      const packed = packedRgbOfYuv(luma, clampByte(u + delta), redChromaOf(r, luma));
      const r2 = packed >> 16;
      const g2 = (packed >> 8) & 0xff;
      const b2 = packed & 0xff;
      this.read[k] = blueChromaOf(b2, lumaOf(r2, g2, b2));
      this.lastError += (r2 - r) ** 2 + (g2 - g) ** 2 + (b2 - b) ** 2;
      if (write) {
        this.output[at] = r2;
        this.output[at + 1] = g2;
        this.output[at + 2] = b2;
      }
    }
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

/** Band offsets of the block's 16 coefficients, by position. */
function blockCells(band: Band, layout: Layout, block: number, into: Int32Array): void {
  for (let position = 0; position < POSITIONS; position++) {
    into[position] = coefficientIndex(band, layout.blockCols, block, position);
  }
}

function gather(band: Band, cells: Int32Array, into: Float64Array): Float64Array {
  for (let position = 0; position < POSITIONS; position++)
    into[position] = band.data[cells[position] ?? 0] ?? 0;
  return into;
}

/** First pass: aim the block's carrier at the nearest value that reads `bit` and stays the largest. */
function aimCarrier(editor: CellEditor, cells: Int32Array, values: Float64Array, bit: number): void {
  let carrier = 1;
  for (let position = 2; position < POSITIONS; position++) {
    if (Math.abs(values[position] ?? 0) > Math.abs(values[carrier] ?? 0)) carrier = position;
  }
  let others = 0;
  for (let position = 1; position < POSITIONS; position++) {
    if (position !== carrier) others = Math.max(others, Math.abs(values[position] ?? 0));
  }
  const value = values[carrier] ?? 0;
  const target = nearestCarrierValue(value, bit, others + CONTENDER_MARGIN + AIM_SLACK);
  // A cell's coefficient is half the sum of its four U values.
  editor.commit(editor.trial(cells[carrier] ?? 0, Math.round(2 * (target - value))));
}

interface Walk {
  edit: CellEdit | null;
  furthest: number;
}

/** A way to make a block read its bit: coefficients (by position) to walk into [from, to]. */
interface Remedy {
  positions: number[];
  from: number;
  to: number;
  direction: 1 | -1;
  /** Lower bound of its squared RGB error, to skip remedies that cannot win. */
  bound: number;
}

/**
 * Lower bound of the squared RGB error of moving a coefficient by `distance`: the cell's U sum
 * moves by twice that, each unit of U costs about 2.03 in B and 0.4 in G (4.28 squared), spread
 * over four pixels; 0.8 instead of 1.07 leaves room for rounding.
 */
function errorBound(distance: number): number {
  return 0.8 * (2 * distance) ** 2;
}

/**
 * Ways to fix a block, cheapest bound first: move one coefficient into the nearest zone above or
 * below it that reads `bit` and clears every other coefficient, or lower every coefficient above
 * a zone into it (for pixels that cannot move up, such as a saturated blue sky or white).
 */
function remediesFor(values: Float64Array, bit: number): Remedy[] {
  const [low, high] = bitZone(bit);
  const remedies: Remedy[] = [];
  let largestPosition = 1;
  for (let position = 2; position < POSITIONS; position++) {
    if ((values[position] ?? 0) > (values[largestPosition] ?? 0)) largestPosition = position;
  }
  const largest = values[largestPosition] ?? 0;
  let runnerUp = 0;
  for (let position = 1; position < POSITIONS; position++) {
    if (position !== largestPosition) runnerUp = Math.max(runnerUp, values[position] ?? 0);
  }

  for (let position = 1; position < POSITIONS; position++) {
    const value = values[position] ?? 0;
    const floor = (position === largestPosition ? runnerUp : largest) + CONTENDER_MARGIN + 0.5;
    let up: Remedy | null = null;
    let down: Remedy | null = null;
    const step = Math.floor(value / STEP);
    for (let zone = step - 1; zone <= step + 2; zone++) {
      const from = Math.max(zone * STEP + low, floor);
      const to = zone * STEP + high;
      if (from > to) continue;
      const direction = value > to ? -1 : 1;
      const bound = errorBound(value < from ? from - value : Math.max(0, value - to));
      const remedy: Remedy = { positions: [position], from, to, direction, bound };
      if (direction > 0 && (up === null || bound < up.bound)) up = remedy;
      if (direction < 0 && (down === null || bound < down.bound)) down = remedy;
    }
    if (up !== null) remedies.push(up);
    if (down !== null) remedies.push(down);
  }

  const top = Math.floor(largest / STEP);
  for (let zone = top; zone >= top - 1; zone--) {
    const from = zone * STEP + low + CONTENDER_MARGIN;
    const to = zone * STEP + high;
    if (to >= largest || from > to) continue;
    const positions: number[] = [];
    let bound = 0;
    for (let position = 1; position < POSITIONS; position++) {
      const value = values[position] ?? 0;
      if (value <= to) continue;
      positions.push(position);
      bound += errorBound(value - to);
    }
    remedies.push({ positions, from, to, direction: -1, bound });
  }
  return remedies.sort((a, b) => a.bound - b.bound);
}

/** Edits that re-embed a block, and their squared RGB error against the input. */
interface Correction {
  block: number;
  edits: CellEdit[];
  error: number;
}

/**
 * Plans the re-embedding of a block from its input values by exact search: tries the remedies in
 * order of their error bound and keeps the cheapest (squared RGB error) that reads `bit`
 * robustly. Null when nothing within reach works.
 */
function planCorrection(
  editor: CellEditor,
  cells: Int32Array,
  block: number,
  bit: number,
): Correction | null {
  const values = gather(editor.inputBand, cells, new Float64Array(POSITIONS));
  // How far each coefficient went up or down before its pixels saturated: later remedies that
  // need more are skipped.
  const ceilings = new Float64Array(POSITIONS).fill(Number.POSITIVE_INFINITY);
  const floors = new Float64Array(POSITIONS).fill(Number.NEGATIVE_INFINITY);
  const trial = new Float64Array(POSITIONS);
  let best: CellEdit[] = [];
  let bestError = Number.POSITIVE_INFINITY;

  for (const remedy of remediesFor(values, bit)) {
    if (remedy.bound >= bestError) break;
    const edits: CellEdit[] = [];
    let error = 0;
    for (const position of remedy.positions) {
      const limit = remedy.direction > 0 ? ceilings : floors;
      const needed = remedy.direction > 0 ? remedy.from : remedy.to;
      if (remedy.direction * (needed - (limit[position] ?? 0)) > 0) break;
      const { edit, furthest } = editor.walk(cells[position] ?? 0, remedy.from, remedy.to, remedy.direction);
      if (edit === null) {
        limit[position] = furthest;
        break;
      }
      edits.push(edit);
      error += edit.error;
      if (error >= bestError) break;
    }
    if (edits.length < remedy.positions.length || error >= bestError) continue;
    trial.set(values);
    remedy.positions.forEach((position, index) => (trial[position] = edits[index]?.value ?? 0));
    if (!readsRobustly(trial, bit)) continue;
    best = edits;
    bestError = error;
  }

  return best.length === 0 ? null : { block, edits: best, error: bestError };
}

/** Sets the block's cells to the edits, and every other cell of it back to the input. */
function applyEdits(editor: CellEditor, cells: Int32Array, edits: readonly CellEdit[]): void {
  for (let position = 1; position < POSITIONS; position++) {
    const cell = cells[position] ?? 0;
    const edit = edits.find((candidate) => candidate.cell === cell);
    if (edit !== undefined) editor.commit(edit);
    else if (editor.changeOf(cell) !== 0) editor.commit(editor.trial(cell, 0));
  }
}

function peakSignalToNoise(squaredError: number, samples: number): number {
  return squaredError === 0
    ? Number.POSITIVE_INFINITY
    : 10 * Math.log10((255 * 255 * samples) / squaredError);
}

/**
 * Embeds `text` (default "StableDiffusionV1") into an RGB (HWC, uint8) image so that
 * invisible-watermark's `dwtDct` decoder reads it back exactly. Images under 256x256 pixels, or
 * with fewer blocks than payload bits, are returned unmarked with a reason.
 */
export function embedWatermark(
  rgb: Uint8Array,
  width: number,
  height: number,
  text: string = DEFAULT_WATERMARK_TEXT,
): EmbedResult {
  assertImageSize(rgb, width, height);
  const bits = payloadBits(text);
  const layout = layoutOf(width, height);
  const unmarked = (reason: string): EmbedResult => ({
    rgb: rgb.slice(),
    watermarked: false,
    reason,
    bitErrors: bits.length,
    psnr: Number.POSITIVE_INFINITY,
    corrections: 0,
  });
  if (width * height < MIN_PIXELS) {
    return unmarked(`image is ${width}x${height}: smaller than 256x256 pixels`);
  }
  if (layout.blocks < bits.length) {
    return unmarked(`image holds ${layout.blocks} blocks, fewer than the ${bits.length} payload bits`);
  }

  const editor = new CellEditor(rgb, width, blueChromaBand(rgb, width, layout));
  const cells = new Int32Array(POSITIONS);
  const values = new Float64Array(POSITIONS);

  for (let block = 0; block < layout.blocks; block++) {
    const bit = bits[block % bits.length] ?? 0;
    blockCells(editor.band, layout, block, cells);
    if (!readsRobustly(gather(editor.band, cells, values), bit)) aimCarrier(editor, cells, values, bit);
  }

  // Read every block back as a decoder would (the band holds what the output's RGB decodes to)
  // and plan a correction for each block that did not take.
  const held = new Uint32Array(bits.length);
  const carriers = new Uint32Array(bits.length);
  const corrections: Correction[] = [];
  const unfixed: number[] = [];
  for (let block = 0; block < layout.blocks; block++) {
    const index = block % bits.length;
    const bit = bits[index] ?? 0;
    carriers[index] = (carriers[index] ?? 0) + 1;
    blockCells(editor.band, layout, block, cells);
    if (readsRobustly(gather(editor.band, cells, values), bit)) {
      held[index] = (held[index] ?? 0) + 1;
      continue;
    }
    const correction = planCorrection(editor, cells, block, bit);
    if (correction === null) unfixed.push(block);
    else corrections.push(correction);
  }

  // Apply the cheap corrections, and the dear ones (flat saturated areas, where every
  // coefficient of a block must move) only until each bit's vote is safe.
  corrections.sort((a, b) => a.error - b.error);
  let applied = 0;
  for (const { block, edits, error } of corrections) {
    const index = block % bits.length;
    blockCells(editor.band, layout, block, cells);
    if (error <= CHEAP_CORRECTION || (held[index] ?? 0) < SAFE_VOTE_SHARE * (carriers[index] ?? 0)) {
      applyEdits(editor, cells, edits);
      held[index] = (held[index] ?? 0) + 1;
      applied++;
    } else {
      // Leave the block as the input had it rather than keep a first pass that did not take.
      unfixed.push(block);
    }
  }
  for (const block of unfixed) {
    blockCells(editor.band, layout, block, cells);
    applyEdits(editor, cells, []);
  }

  // The proof: decode the output from scratch, as the reference decoder would.
  const { output } = editor;
  const readout = readoutOf(
    voteBits(readBlockBits(blueChromaBand(output, width, layout), layout), bits.length),
    bits,
  );
  return {
    rgb: output,
    watermarked: true,
    bitErrors: readout.bitErrors,
    psnr: peakSignalToNoise(editor.totalError(), rgb.length),
    corrections: applied,
  };
}
