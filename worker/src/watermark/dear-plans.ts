/**
 * The dear corrections planned for an image, kept until they are applied cheapest first: each
 * plan's cell changes live in one flat array, so thousands of plans cost no per-plan buffers.
 */
import type { CellChanges } from './correction.js';

export interface DearPlan {
  block: number;
  /** Squared RGB error of the plan's changes. */
  error: number;
  /** Where the plan's (cell, change) pairs start in the flat array, and how many there are. */
  start: number;
  count: number;
}

export class DearPlans {
  private readonly plans: DearPlan[] = [];
  /** (cell, change) pairs of every plan, one after the other. */
  private readonly pairs: number[] = [];

  add(block: number, error: number, changes: CellChanges): void {
    this.plans.push({ block, error, start: this.pairs.length, count: changes.count });
    for (let index = 0; index < changes.count; index++) {
      this.pairs.push(changes.cells[index] ?? 0, changes.changes[index] ?? 0);
    }
  }

  /** The plans by error, ties in the order they were added. */
  cheapestFirst(): DearPlan[] {
    return this.plans.slice().sort((a, b) => a.error - b.error);
  }

  /** Writes the plan's changes into `into` and returns it. */
  changesOf(plan: DearPlan, into: CellChanges): CellChanges {
    into.count = 0;
    for (let index = 0; index < plan.count; index++) {
      const at = plan.start + 2 * index;
      into.push(this.pairs[at] ?? 0, this.pairs[at + 1] ?? 0, 0);
    }
    return into;
  }
}
