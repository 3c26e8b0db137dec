/**
 * What the embedder made of uniform blocks: those whose carrying cells all have identical input
 * pixels (a poster's flat fills, clipped white, a clear sky). Every pass computes such a block
 * from its cell's pixels and its bit alone (position 0 never carries), so a block like one already
 * done repeats that result rather than listing remedies and searching again: the output is the
 * same, without the search.
 */
import { POSITIONS } from './block-remedies.js';
import type { CellEditor } from './cell-editor.js';
import { firstPass, planCorrection, type BlockScratch, type FirstPass } from './correction.js';
import { isUniform } from './uniform-walks.js';

/** A first pass: its result and each position's change of its cell's U sum afterwards. */
interface Passed {
  pass: FirstPass;
  changes: Int32Array;
}

/** A dear plan: its error (null: none) and its changes, by position, in the order planned. */
interface Planned {
  error: number | null;
  count: number;
  positions: Int32Array;
  changes: Int32Array;
  values: Float64Array;
}

/** Outcomes of one image's uniform blocks, by cell pixels and bit. */
export class UniformOutcomes {
  private readonly passes = new Map<string, Passed>();
  private readonly plans = new Map<string, Planned>();

  /**
   * `firstPass` of a block whose input values are in `scratch.values` and whose cells are
   * unchanged so far; a uniform block like one already passed gets the same changes.
   */
  firstPass(editor: CellEditor, cells: Int32Array, bit: number, scratch: BlockScratch): FirstPass {
    const key = keyOf(editor, cells, scratch.values, bit);
    if (key === null) return firstPass(editor, cells, bit, scratch);
    const known = this.passes.get(key);
    if (known !== undefined) {
      for (let position = 1; position < POSITIONS; position++) {
        const change = known.changes[position] ?? 0;
        if (change !== 0) editor.set(cells[position] ?? 0, change);
      }
      return known.pass;
    }
    const pass = firstPass(editor, cells, bit, scratch);
    const changes = new Int32Array(POSITIONS);
    for (let position = 1; position < POSITIONS; position++)
      changes[position] = editor.changeOf(cells[position] ?? 0);
    this.passes.set(key, { pass, changes });
    return pass;
  }

  /**
   * `planCorrection` without a limit of a block whose input values are in `scratch.values`, its
   * remedies listed here; the plan lands in `scratch.best`. A uniform block like one already
   * planned gets the same plan.
   */
  plan(editor: CellEditor, cells: Int32Array, bit: number, scratch: BlockScratch): number | null {
    const key = keyOf(editor, cells, scratch.values, bit);
    const known = key === null ? undefined : this.plans.get(key);
    const { best } = scratch;
    if (known !== undefined) {
      best.count = 0;
      for (let index = 0; index < known.count; index++) {
        best.push(
          cells[known.positions[index] ?? 0] ?? 0,
          known.changes[index] ?? 0,
          known.values[index] ?? 0,
        );
      }
      return known.error;
    }
    scratch.remedies.list(scratch.values, bit);
    const error = planCorrection(editor, cells, bit, scratch);
    if (key !== null) {
      const positions = new Int32Array(best.count);
      for (let index = 0; index < best.count; index++)
        positions[index] = cells.indexOf(best.cells[index] ?? 0);
      this.plans.set(key, {
        error,
        count: best.count,
        positions,
        changes: best.changes.slice(0, best.count),
        values: best.values.slice(0, best.count),
      });
    }
    return error;
  }
}

/** The key of a uniform block (its cell's pixels and its bit), or null for any other block. */
function keyOf(editor: CellEditor, cells: Int32Array, values: Float64Array, bit: number): string | null {
  return isUniform(editor, cells, values) ? `${bit}${editor.inputKey(cells[1] ?? 0)}` : null;
}
