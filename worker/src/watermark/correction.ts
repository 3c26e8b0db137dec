/**
 * The embedder's block passes: the first aim by arithmetic alone, and the exact correction search
 * for blocks that did not read back.
 */
import {
  forEachRemedy,
  gather,
  POSITIONS,
  readsRobustly,
  remediesFor,
  remedyPositions,
  type Remedy,
} from './block-remedies.js';
import { REACH_SLACK, WALK_INSET, type CellEdit, type CellEditor } from './cell-editor.js';

/** Squared RGB error of a correction always worth making (a block's MSE of about 5). */
export const CHEAP_CORRECTION = 1000;

/**
 * First pass, by arithmetic alone: applies the cheap remedy with the smallest error bound whose
 * coefficients have room to move (before B saturates), aiming just inside its range. What
 * rounding and clamping make of it is found when the blocks are read back.
 */
export function aimBlock(editor: CellEditor, cells: Int32Array, values: Float64Array, bit: number): void {
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

/** Edits that re-embed a block, and their squared RGB error against the input. */
export interface Correction {
  block: number;
  edits: CellEdit[];
  error: number;
}

/** Per-block working arrays, allocated once per image. */
export class BlockScratch {
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
export function planCorrection(
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
export function applyEdits(editor: CellEditor, cells: Int32Array, edits: readonly CellEdit[]): void {
  for (let position = 1; position < POSITIONS; position++) {
    const cell = cells[position] ?? 0;
    const edit = edits.find((candidate) => candidate.cell === cell);
    if (edit !== undefined) editor.commit(edit);
    else if (editor.changeOf(cell) !== 0) editor.set(cell, 0);
  }
}
