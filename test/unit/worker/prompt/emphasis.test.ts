/**
 * A1111's "Original" emphasis on made-up encoder output (the fixture's encoder output has a mean
 * of about 0, where the restoring factor is rounding noise, in A1111 too).
 */
import { describe, expect, it } from 'vitest';
import { applyEmphasis } from '../../../../worker/src/diffusion/prompt/emphasis.js';

const TOKENS = 5;
const WIDTH = 4;
const hidden = () => Float32Array.from({ length: TOKENS * WIDTH }, (_, index) => 0.5 + Math.sin(index) / 3);
const mean = (values: ArrayLike<number>) => Array.from(values).reduce((a, b) => a + b, 0) / values.length;

describe('Original emphasis', () => {
  it('multiplies each token vector by its weight and restores the chunk mean', () => {
    const raw = hidden();
    const out = hidden();
    const weights = [1, 1.5, 1 / 1.1, 1, 1];
    expect(applyEmphasis(out, weights)).toBe(true);
    const weighted = Array.from(raw, (value, index) => value * weights[Math.floor(index / WIDTH)]!);
    const scale = mean(raw) / mean(weighted);
    out.forEach((value, index) => {
      expect(value).toBeCloseTo(weighted[index]! * scale, 6);
    });
    expect(mean(out)).toBeCloseTo(mean(raw), 6);
    // The emphasised token moved up relative to its neighbours, the de-emphasised one down.
    expect(out[WIDTH]! / raw[WIDTH]!).toBeGreaterThan(out[0]! / raw[0]!);
    expect(out[2 * WIDTH]! / raw[2 * WIDTH]!).toBeLessThan(out[0]! / raw[0]!);
  });

  it('leaves a chunk whose weights are all 1 untouched, bit for bit', () => {
    const out = hidden();
    expect(applyEmphasis(out, new Array<number>(TOKENS).fill(1))).toBe(false);
    expect(out).toEqual(hidden());
  });
});
