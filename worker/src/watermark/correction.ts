/**
 * The embedder's block passes: the first aim by arithmetic alone, and the exact correction search
 * for blocks that did not read back.
 */
import { gather, POSITIONS, readsRobustly, RemedyList } from './block-remedies.js';
import { REACH_SLACK, WALK_INSET, Walk, type CellEditor } from './cell-editor.js';
import { UniformWalks } from './uniform-walks.js';

/** Squared RGB error of a correction always worth making (a block's MSE of about 5). */
export const CHEAP_CORRECTION = 1000;

/** Changes of some of a block's cells' U sums, as parallel arrays. */
export class CellChanges {
  count = 0;
  readonly cells = new Int32Array(POSITIONS);
  readonly changes = new Int32Array(POSITIONS);
  /** What a decoder reads at each cell after its change. */
  readonly values = new Float64Array(POSITIONS);

  push(cell: number, change: number, value: number): void {
    const index = this.count++;
    this.cells[index] = cell;
    this.changes[index] = change;
    this.values[index] = value;
  }

  copyFrom(other: CellChanges): void {
    // A loop: for so few entries, the typed arrays' native set costs more than the copy.
    this.count = other.count;
    for (let index = 0; index < other.count; index++) {
      this.cells[index] = other.cells[index] ?? 0;
      this.changes[index] = other.changes[index] ?? 0;
      this.values[index] = other.values[index] ?? 0;
    }
  }

  /** The change of `cell`, or null when it has none here. */
  changeOf(cell: number): number | null {
    for (let index = 0; index < this.count; index++) {
      if (this.cells[index] === cell) return this.changes[index] ?? 0;
    }
    return null;
  }
}

/** Per-block working arrays, allocated once per image. */
export class BlockScratch {
  /** The block's input values, and its remedies listed from them. */
  readonly values = new Float64Array(POSITIONS);
  readonly trial = new Float64Array(POSITIONS);
  /** How far each coefficient went up or down before its pixels saturated. */
  readonly ceilings = new Float64Array(POSITIONS);
  readonly floors = new Float64Array(POSITIONS);
  readonly remedies = new RemedyList();
  /** Positions a remedy moves. */
  readonly positions = new Int32Array(POSITIONS);
  readonly walk = new Walk();
  readonly uniform = new UniformWalks();
  /** The edits of the remedy being tried, and of the cheapest that worked. */
  readonly tried = new CellChanges();
  readonly best = new CellChanges();

  /** Gathers the block's input values into `values`, and returns them. */
  gatherInput(editor: CellEditor, cells: Int32Array): Float64Array {
    return gather(editor.inputBand, cells, this.values);
  }
}

/**
 * First pass, by arithmetic alone: applies the cheap remedy with the smallest error bound whose
 * coefficients have room to move (before B saturates), aiming just inside its range. What
 * rounding and clamping make of it is found when the blocks are read back. Takes the block's
 * input values and remedies from `scratch`; says whether it changed any cell.
 */
export function aimBlock(editor: CellEditor, cells: Int32Array, scratch: BlockScratch): boolean {
  const { values, remedies, positions } = scratch;
  let choice = -1;
  let choiceBound = CHEAP_CORRECTION;
  for (let remedy = 0; remedy < remedies.count; remedy++) {
    if ((remedies.bound[remedy] ?? 0) >= choiceBound) continue;
    const from = remedies.from[remedy] ?? 0;
    const to = remedies.to[remedy] ?? 0;
    const direction = remedies.directionOf(remedy);
    const count = remedies.positionsOf(remedy, values, positions);
    let roomy = true;
    for (let index = 0; index < count && roomy; index++) {
      const position = positions[index] ?? 0;
      const distance = direction > 0 ? from - (values[position] ?? 0) : (values[position] ?? 0) - to;
      roomy = distance <= editor.freeReach(cells[position] ?? 0, direction) + REACH_SLACK;
    }
    if (roomy) {
      choice = remedy;
      choiceBound = remedies.bound[remedy] ?? 0;
    }
  }
  if (choice < 0) return false;
  const from = remedies.from[choice] ?? 0;
  const to = remedies.to[choice] ?? 0;
  const aim =
    remedies.directionOf(choice) > 0 ? Math.min(from + WALK_INSET, to) : Math.max(to - WALK_INSET, from);
  const count = remedies.positionsOf(choice, values, positions);
  for (let index = 0; index < count; index++) {
    const position = positions[index] ?? 0;
    const value = values[position] ?? 0;
    // A cell's coefficient is half the sum of its four U values.
    if (value < from || value > to) editor.set(cells[position] ?? 0, Math.round(2 * (aim - value)));
  }
  return true;
}

/**
 * Plans the re-embedding of a block from its input values (`scratch.values`, its remedies listed
 * in `scratch.remedies`) by exact search: tries the remedies in order of their error bound and
 * keeps the cheapest (squared RGB error) that reads `bit` robustly, in `scratch.best`. Returns its
 * error, or null when nothing within reach works for less than `maxError`.
 */
export function planCorrection(
  editor: CellEditor,
  cells: Int32Array,
  bit: number,
  scratch: BlockScratch,
  maxError = Number.POSITIVE_INFINITY,
): number | null {
  const { values, trial, ceilings, floors, remedies, positions, walk, uniform, tried, best } = scratch;
  for (let position = 0; position < POSITIONS; position++) {
    ceilings[position] = Number.POSITIVE_INFINITY;
    floors[position] = Number.NEGATIVE_INFINITY;
  }
  best.count = 0;
  uniform.reset(editor, cells, values);
  let bestError = maxError;

  remedies.sortByBound();
  for (let rank = 0; rank < remedies.count; rank++) {
    const remedy = remedies.order[rank] ?? 0;
    if ((remedies.bound[remedy] ?? 0) >= bestError) break;
    const from = remedies.from[remedy] ?? 0;
    const to = remedies.to[remedy] ?? 0;
    const direction = remedies.directionOf(remedy);
    const limit = direction > 0 ? ceilings : floors;
    const count = remedies.positionsOf(remedy, values, positions);
    tried.count = 0;
    let error = 0;
    for (let index = 0; index < count; index++) {
      const position = positions[index] ?? 0;
      // A coefficient already seen to saturate short of this range is not walked again.
      if (direction * ((direction > 0 ? from : to) - (limit[position] ?? 0)) > 0) break;
      if (!uniform.walk(editor, cells[position] ?? 0, from, to, direction, walk)) {
        limit[position] = walk.furthest;
        break;
      }
      tried.push(cells[position] ?? 0, walk.change, walk.value);
      error += walk.error;
      if (error >= bestError) break;
    }
    if (tried.count < count || error >= bestError) continue;
    for (let position = 0; position < POSITIONS; position++) trial[position] = values[position] ?? 0;
    for (let index = 0; index < count; index++) trial[positions[index] ?? 0] = tried.values[index] ?? 0;
    if (!readsRobustly(trial, bit)) continue;
    best.copyFrom(tried);
    bestError = error;
  }

  return best.count === 0 ? null : bestError;
}

/** Sets the block's cells to the changes, and every other cell of it back to the input. */
export function applyChanges(editor: CellEditor, cells: Int32Array, changes: CellChanges | null): void {
  for (let position = 1; position < POSITIONS; position++) {
    const cell = cells[position] ?? 0;
    const change = changes === null ? null : changes.changeOf(cell);
    if (change !== null) editor.set(cell, change);
    else if (editor.changeOf(cell) !== 0) editor.set(cell, 0);
  }
}

/**
 * What the first pass made of a block: `held`, it reads its bit once aimed; `corrected`, the aim
 * did not take and a cheap correction was made; `dear`, only a dear correction would do (the block
 * keeps its aim for now).
 */
export type FirstPass = 'held' | 'corrected' | 'dear';

/**
 * The first pass over a block that does not read `bit` robustly from its input (its values in
 * `scratch.values`): aim it, read it back as a decoder would (the band holds what the output's
 * RGB decodes to), and re-embed it when the aim did not take and that is cheap.
 */
export function firstPass(
  editor: CellEditor,
  cells: Int32Array,
  bit: number,
  scratch: BlockScratch,
): FirstPass {
  // Neither the aim nor the cheap correction tries a remedy bound to cost CHEAP_CORRECTION or more.
  scratch.remedies.list(scratch.values, bit, CHEAP_CORRECTION);
  // Unchanged by the aim, the block still does not read its bit.
  const aimed = aimBlock(editor, cells, scratch);
  if (aimed && readsRobustly(gather(editor.band, cells, scratch.trial), bit)) return 'held';
  if (planCorrection(editor, cells, bit, scratch, CHEAP_CORRECTION) === null) return 'dear';
  applyChanges(editor, cells, scratch.best);
  return 'corrected';
}
