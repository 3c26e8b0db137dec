/**
 * A `dwtDct` embedder that the reference decoder reads back exactly. The reference embedder
 * quantises a float coefficient, then loses the change to uint8 truncation, the RGB round trip
 * and argmax flips, so most real images do not decode to their payload. Here every change is made
 * in whole U levels of real pixels (B and G shifted as OpenCV's inverse would, R kept) and judged
 * by what a decoder computes from the resulting RGB:
 * 1. aim: each block that does not already read its bit gets the remedy with the smallest error
 *    bound whose pixels have room to move: one coefficient (any of the fifteen) moved to the
 *    nearest value that reads the bit above all the others, or every coefficient above a zone
 *    lowered into it. Arithmetic only, one pixel pass;
 * 2. verify: every block is read back as a decoder reads the output;
 * 3. correct: blocks that did not take (rounding, saturated pixels, ties) are re-embedded from
 *    their input by an exact search whose every step is a trial of the real pixels. Cheap
 *    corrections are always made; dear ones (flat saturated areas where many coefficients must
 *    move) only until 3/4 of each bit's blocks carry it, which keeps the majority vote safe
 *    without spending the image's quality;
 * 4. prove: the output is decoded from scratch and its bit errors reported.
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
import { blueChromaOf, blueShift, greenShift, lumaOf, redChromaOf } from './yuv.js';

/** Distance every carrier keeps from the thresholds at 0, 18 and 36 (coefficient units). */
const BIT_MARGIN = 3;
/** Coefficients within this of a block's largest could be read as its carrier by a decoder. */
const CONTENDER_MARGIN = 2;
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
/** How far past its unsaturated reach a walk still tries to move a cell (rounding, luma shifts). */
const REACH_SLACK = 2;
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

/**
 * First pass, by arithmetic alone: applies the cheap remedy with the smallest error bound whose
 * coefficients have room to move (before B saturates), aiming just inside its range. What
 * rounding and clamping make of it is found when the blocks are read back.
 */
function aimBlock(editor: CellEditor, cells: Int32Array, values: Float64Array, bit: number): void {
  const choice: { remedy?: Remedy } = {};
  forEachRemedy(values, bit, (remedy) => {
    if (remedy.bound >= (choice.remedy?.bound ?? CHEAP_CORRECTION)) return;
    const { from, to, direction } = remedy;
    const roomy = remedyPositions(remedy, values).every((position) => {
      const distance = direction > 0 ? from - (values[position] ?? 0) : (values[position] ?? 0) - to;
      return distance <= editor.freeReach(cells[position] ?? 0, direction) + REACH_SLACK;
    });
    if (roomy) choice.remedy = { ...remedy };
  });
  const { remedy } = choice;
  if (remedy === undefined) return;
  const { from, to, direction } = remedy;
  const aim = direction > 0 ? Math.min(from + WALK_INSET, to) : Math.max(to - WALK_INSET, from);
  for (const position of remedyPositions(remedy, values)) {
    const value = values[position] ?? 0;
    // A cell's coefficient is half the sum of its four U values.
    if (value < from || value > to) editor.set(cells[position] ?? 0, Math.round(2 * (aim - value)));
  }
}

interface Walk {
  edit: CellEdit | null;
  furthest: number;
}

/** Remedy position meaning "every coefficient above `to`" (position 0 never carries a bit). */
const EVERY_ABOVE = 0;

/**
 * A way to make a block read its bit: walk the coefficient at `position` (or, for EVERY_ABOVE,
 * each coefficient above `to`) into [from, to].
 */
interface Remedy {
  position: number;
  from: number;
  to: number;
  direction: 1 | -1;
  /** Lower bound of its squared RGB error, to skip remedies that cannot win. */
  bound: number;
}

/** Positions a remedy moves, given the block's values. */
function remedyPositions(remedy: Remedy, values: Float64Array): number[] {
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
function forEachRemedy(values: Float64Array, bit: number, visit: (remedy: Readonly<Remedy>) => void): void {
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
function remediesFor(values: Float64Array, bit: number): Remedy[] {
  const remedies: Remedy[] = [];
  forEachRemedy(values, bit, (remedy) => remedies.push({ ...remedy }));
  return remedies.sort((a, b) => a.bound - b.bound);
}

/** Edits that re-embed a block, and their squared RGB error against the input. */
interface Correction {
  block: number;
  edits: CellEdit[];
  error: number;
}

/** Per-block working arrays, allocated once per image. */
class BlockScratch {
  readonly values = new Float64Array(POSITIONS);
  readonly trial = new Float64Array(POSITIONS);
  /** How far each coefficient went up or down before its pixels saturated. */
  readonly ceilings = new Float64Array(POSITIONS);
  readonly floors = new Float64Array(POSITIONS);
}

/**
 * Plans the re-embedding of a block from its input values by exact search: tries the remedies in
 * order of their error bound and keeps the cheapest (squared RGB error) that reads `bit`
 * robustly. Null when nothing within reach works for less than `maxError`.
 */
function planCorrection(
  editor: CellEditor,
  cells: Int32Array,
  block: number,
  bit: number,
  scratch: BlockScratch,
  maxError = Number.POSITIVE_INFINITY,
): Correction | null {
  const { values, trial, ceilings, floors } = scratch;
  gather(editor.inputBand, cells, values);
  ceilings.fill(Number.POSITIVE_INFINITY);
  floors.fill(Number.NEGATIVE_INFINITY);
  let best: CellEdit[] = [];
  let bestError = maxError;

  for (const remedy of remediesFor(values, bit)) {
    if (remedy.bound >= bestError) break;
    const { from, to, direction } = remedy;
    const limit = direction > 0 ? ceilings : floors;
    const positions = remedyPositions(remedy, values);
    const edits: CellEdit[] = [];
    let error = 0;
    for (const position of positions) {
      // A coefficient already seen to saturate short of this range is not walked again.
      if (direction * ((direction > 0 ? from : to) - (limit[position] ?? 0)) > 0) break;
      const { edit, furthest } = editor.walk(cells[position] ?? 0, from, to, direction);
      if (edit === null) {
        limit[position] = furthest;
        break;
      }
      edits.push(edit);
      error += edit.error;
      if (error >= bestError) break;
    }
    if (edits.length < positions.length || error >= bestError) continue;
    trial.set(values);
    positions.forEach((position, index) => (trial[position] = edits[index]?.value ?? 0));
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
    else if (editor.changeOf(cell) !== 0) editor.set(cell, 0);
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
  const scratch = new BlockScratch();

  for (let block = 0; block < layout.blocks; block++) {
    const bit = bits[block % bits.length] ?? 0;
    blockCells(editor.band, layout, block, cells);
    if (!readsRobustly(gather(editor.band, cells, values), bit)) aimBlock(editor, cells, values, bit);
  }

  // Read every block back as a decoder would (the band holds what the output's RGB decodes to)
  // and re-embed the blocks that did not take, when that is cheap.
  const held = new Uint32Array(bits.length);
  const carriers = new Uint32Array(bits.length);
  const dear: number[] = [];
  let corrections = 0;
  for (let block = 0; block < layout.blocks; block++) {
    const index = block % bits.length;
    const bit = bits[index] ?? 0;
    carriers[index] = (carriers[index] ?? 0) + 1;
    blockCells(editor.band, layout, block, cells);
    const fix = readsRobustly(gather(editor.band, cells, values), bit)
      ? null
      : planCorrection(editor, cells, block, bit, scratch, CHEAP_CORRECTION);
    if (fix !== null) {
      applyEdits(editor, cells, fix.edits);
      corrections++;
    } else if (!readsRobustly(values, bit)) {
      dear.push(block);
      continue;
    }
    held[index] = (held[index] ?? 0) + 1;
  }

  // Dear corrections (flat saturated areas, where every coefficient of a block must move) are
  // made, cheapest first, only for bits whose vote is not yet safe. Other blocks that did not
  // take go back to the input rather than keep a first pass that failed.
  const plans: Correction[] = [];
  for (const block of dear) {
    const index = block % bits.length;
    if ((held[index] ?? 0) >= SAFE_VOTE_SHARE * (carriers[index] ?? 0)) continue;
    blockCells(editor.band, layout, block, cells);
    const plan = planCorrection(editor, cells, block, bits[index] ?? 0, scratch);
    if (plan !== null) plans.push(plan);
  }
  const applied = new Set<number>();
  for (const { block, edits } of plans.sort((a, b) => a.error - b.error)) {
    const index = block % bits.length;
    if ((held[index] ?? 0) >= SAFE_VOTE_SHARE * (carriers[index] ?? 0)) continue;
    blockCells(editor.band, layout, block, cells);
    applyEdits(editor, cells, edits);
    applied.add(block);
    held[index] = (held[index] ?? 0) + 1;
    corrections++;
  }
  for (const block of dear) {
    if (applied.has(block)) continue;
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
    corrections,
  };
}
