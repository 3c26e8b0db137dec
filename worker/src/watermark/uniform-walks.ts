/**
 * Walks in a uniform block: one whose carrying cells all have identical input pixels (a poster's
 * flat fill, clipped white, a clear sky). Such cells walk identically towards any range, and a
 * plan there walks the same cell to the same range for every remedy; the walks are remembered
 * by range instead, which leaves the plan exactly as it was.
 */
import { POSITIONS } from './block-remedies.js';
import { Walk, type CellEditor } from './cell-editor.js';

/** Ranges remembered at once: a plan alternates between a few. */
const REMEMBERED = 4;

/** Whether the block's carrying cells (positions 1-15) all have identical input pixels. */
export function isUniform(editor: CellEditor, cells: Int32Array, values: Float64Array): boolean {
  const first = values[1] ?? 0;
  // Identical pixels read identical values, so the values are a cheap first test.
  for (let position = 2; position < POSITIONS; position++) if (values[position] !== first) return false;
  for (let position = 2; position < POSITIONS; position++) {
    if (!editor.sameInput(cells[1] ?? 0, cells[position] ?? 0)) return false;
  }
  return true;
}

export class UniformWalks {
  /** Whether the block of the last `reset` is uniform. */
  private uniform = false;
  private readonly from = new Float64Array(REMEMBERED);
  private readonly to = new Float64Array(REMEMBERED);
  /** Direction of each remembered walk; 0: none. */
  private readonly direction = new Int8Array(REMEMBERED);
  private readonly walks = Array.from({ length: REMEMBERED }, () => new Walk());
  private next = 0;

  /** Starts a block, given its cells and their input values; forgets every walk. */
  reset(editor: CellEditor, cells: Int32Array, values: Float64Array): void {
    for (let slot = 0; slot < REMEMBERED; slot++) this.direction[slot] = 0;
    this.uniform = isUniform(editor, cells, values);
  }

  /** `editor.walk` of `cell`, or, in a uniform block, what a walk to the same range found. */
  walk(editor: CellEditor, cell: number, from: number, to: number, direction: 1 | -1, into: Walk): boolean {
    if (!this.uniform) return editor.walk(cell, from, to, direction, into);
    for (let slot = 0; slot < REMEMBERED; slot++) {
      if (this.direction[slot] === direction && this.from[slot] === from && this.to[slot] === to) {
        into.copyFrom(this.walks[slot] ?? into);
        return into.found;
      }
    }
    const found = editor.walk(cell, from, to, direction, into);
    const slot = this.next;
    this.next = (slot + 1) % REMEMBERED;
    this.walks[slot]?.copyFrom(into);
    this.direction[slot] = direction;
    this.from[slot] = from;
    this.to[slot] = to;
    return found;
  }
}
