/**
 * The dear corrections planned for an image, kept until they are applied cheapest first. Plans
 * live in typed arrays sized once for the image's dear blocks, so thousands of them allocate
 * nothing each.
 */
import { POSITIONS } from './block-remedies.js';
import type { CellChanges } from './correction.js';

export class DearPlans {
  private count = 0;
  private readonly blocks: Int32Array;
  /** Squared RGB error of each plan's changes. */
  private readonly errors: Float64Array;
  private readonly sizes: Int32Array;
  /** Each plan's (cell, change) pairs, in a slot of POSITIONS pairs. */
  private readonly pairs: Int32Array;

  constructor(capacity: number) {
    this.blocks = new Int32Array(capacity);
    this.errors = new Float64Array(capacity);
    this.sizes = new Int32Array(capacity);
    this.pairs = new Int32Array(capacity * 2 * POSITIONS);
  }

  add(block: number, error: number, changes: CellChanges): void {
    const plan = this.count++;
    this.blocks[plan] = block;
    this.errors[plan] = error;
    this.sizes[plan] = changes.count;
    for (let index = 0, at = plan * 2 * POSITIONS; index < changes.count; index++, at += 2) {
      this.pairs[at] = changes.cells[index] ?? 0;
      this.pairs[at + 1] = changes.changes[index] ?? 0;
    }
  }

  /** The plans by error, ties in the order they were added. */
  cheapestFirst(): number[] {
    const { errors } = this;
    return Array.from({ length: this.count }, (_, plan) => plan).sort(
      (a, b) => (errors[a] ?? 0) - (errors[b] ?? 0) || a - b,
    );
  }

  blockOf(plan: number): number {
    return this.blocks[plan] ?? 0;
  }

  /** Writes the plan's changes into `into` and returns it. */
  changesOf(plan: number, into: CellChanges): CellChanges {
    into.count = 0;
    for (let index = 0, at = plan * 2 * POSITIONS; index < (this.sizes[plan] ?? 0); index++, at += 2) {
      into.push(this.pairs[at] ?? 0, this.pairs[at + 1] ?? 0, 0);
    }
    return into;
  }
}
