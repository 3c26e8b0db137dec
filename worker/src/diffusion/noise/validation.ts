import { LIMITS, rangeText, ValidationError } from '@sdbot/shared';

/** Seeds are 32-bit unsigned integers everywhere (job schema, numpy, torch's 32-bit engine seed). */
export function assertSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < LIMITS.seed.min || seed > LIMITS.seed.max) {
    throw new ValidationError([
      { field: 'seed', message: `must be an integer in ${rangeText(LIMITS.seed)}, got ${String(seed)}` },
    ]);
  }
}

export function assertCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new ValidationError([
      { field: 'count', message: `must be a non-negative integer, got ${String(count)}` },
    ]);
  }
}
