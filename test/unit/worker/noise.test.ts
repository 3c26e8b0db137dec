import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@sdbot/shared';
import {
  createNoiseGenerator,
  Mt19937,
  NumpyRandomState,
  TorchGenerator,
} from '../../../worker/src/diffusion/noise.js';
import { sharedFixture } from '../../helpers/shared-fixtures.js';

interface RngCase {
  source: 'numpy' | 'torch';
  seed: number;
  shape: number[];
  head: number[];
  tail: number[];
  sum: number;
  sumsq: number;
}

const LATENT_COUNT = 4 * 64 * 64;

function sums(values: Iterable<number>): { sum: number; sumsq: number } {
  let sum = 0;
  let sumsq = 0;
  for (const value of values) {
    sum += value;
    sumsq += value * value;
  }
  return { sum, sumsq };
}

function maxAbsDifference(actual: ArrayLike<number>, expected: readonly number[]): number {
  expect(actual).toHaveLength(expected.length);
  return Math.max(...expected.map((value, i) => Math.abs((actual[i] ?? Number.NaN) - value)));
}

const fx = sharedFixture('rng-examples.json');

describe.skipIf(!fx.available)(`reference noise (rng-examples.json)${fx.skipNote}`, () => {
  const cases = fx.available ? (JSON.parse(readFileSync(fx.path, 'utf8')) as { cases: RngCase[] }).cases : [];

  it.each(cases.filter((c) => c.source === 'numpy'))(
    'numpy RandomState($seed).randn($shape) matches exactly',
    ({ seed, shape, head, tail, sum, sumsq }) => {
      const count = shape.reduce((a, b) => a * b, 1);
      const values = new NumpyRandomState(seed).randn(count);
      expect(Array.from(values.subarray(0, head.length))).toEqual(head);
      expect(Array.from(values.subarray(count - tail.length))).toEqual(tail);
      // numpy sums pairwise, this sums in order: only the order of additions differs.
      const actual = sums(values);
      expect(actual.sum).toBeCloseTo(sum, 10);
      expect(Math.abs(actual.sumsq - sumsq) / sumsq).toBeLessThan(1e-12);
    },
  );

  it.each(cases.filter((c) => c.source === 'torch'))(
    'torch manual_seed($seed) randn($shape) matches float32 values',
    ({ seed, shape, head, tail, sum, sumsq }) => {
      const count = shape.reduce((a, b) => a * b, 1);
      const values = new TorchGenerator(seed).randn(count);
      expect(maxAbsDifference(values.subarray(0, head.length), head)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDifference(values.subarray(count - tail.length), tail)).toBeLessThanOrEqual(1e-6);
      const actual = sums(values);
      expect(Math.abs(actual.sum - sum) / Math.abs(sum)).toBeLessThan(1e-4);
      expect(Math.abs(actual.sumsq - sumsq) / sumsq).toBeLessThan(1e-4);
    },
  );

  it('torch values are bit-identical to the x86 reference, not merely close', () => {
    for (const { seed, shape, head, tail } of cases.filter((c) => c.source === 'torch')) {
      const count = shape.reduce((a, b) => a * b, 1);
      const values = new TorchGenerator(seed).randn(count);
      expect(Array.from(values.subarray(0, head.length))).toEqual(head);
      expect(Array.from(values.subarray(count - tail.length))).toEqual(tail);
    }
  });

  it('createNoiseGenerator returns the float32 cast of the reference draws', () => {
    for (const { source, seed, shape, head } of cases) {
      const count = shape.reduce((a, b) => a * b, 1);
      const values = createNoiseGenerator(source, seed).randn(count);
      expect(values).toBeInstanceOf(Float32Array);
      expect(values).toHaveLength(count);
      expect(Array.from(values.subarray(0, head.length))).toEqual(head.map((v) => Math.fround(v)));
    }
  });
});

describe('MT19937', () => {
  it('produces the reference sequence for the reference seed 5489', () => {
    // First outputs of mt19937ar.c's init_genrand(5489), also std::mt19937's default.
    const engine = new Mt19937(5489);
    expect([1, 2, 3].map(() => engine.nextUint32())).toEqual([3499211612, 581869302, 3890346734]);
    for (let i = 3; i < 9999; i++) engine.nextUint32();
    // The C++ standard fixes the 10000th output of a default-constructed mt19937.
    expect(engine.nextUint32()).toBe(4123659995);
  });
});

describe.each(['numpy', 'torch'] as const)('%s noise generator', (source) => {
  it('the same seed gives the same values', () => {
    const first = createNoiseGenerator(source, 1234).randn(LATENT_COUNT);
    const second = createNoiseGenerator(source, 1234).randn(LATENT_COUNT);
    expect(second).toEqual(first);
  });

  it('different seeds give different values', () => {
    const first = createNoiseGenerator(source, 1234).randn(64);
    const second = createNoiseGenerator(source, 1235).randn(64);
    expect(Array.from(second)).not.toEqual(Array.from(first));
  });

  it('draws look standard normal (mean 0, variance 1, finite)', () => {
    const values = createNoiseGenerator(source, 7).randn(LATENT_COUNT);
    const { sum, sumsq } = sums(values);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(Math.abs(sum / LATENT_COUNT)).toBeLessThan(0.05);
    expect(sumsq / LATENT_COUNT).toBeGreaterThan(0.95);
    expect(sumsq / LATENT_COUNT).toBeLessThan(1.05);
  });

  it('accepts the extreme seeds 0 and 2^32-1', () => {
    expect(createNoiseGenerator(source, 0).randn(3)).toHaveLength(3);
    expect(createNoiseGenerator(source, 2 ** 32 - 1).randn(3)).toHaveLength(3);
  });

  it.each([-1, 2 ** 32, 1.5, Number.NaN])('rejects seed %s naming `seed`', (seed) => {
    expect(() => createNoiseGenerator(source, seed)).toThrow(ValidationError);
    expect(() => createNoiseGenerator(source, seed)).toThrow(/^seed: must be an integer in 0\.\.4294967295/);
  });

  it('rejects a negative or fractional count naming `count`', () => {
    const generator = createNoiseGenerator(source, 1);
    expect(() => generator.randn(-1)).toThrow(/^count: must be a non-negative integer/);
    expect(() => generator.randn(2.5)).toThrow(/^count: must be a non-negative integer/);
    expect(generator.randn(0)).toHaveLength(0);
  });
});

describe('numpy state across calls', () => {
  it('continues the stream, including the cached second Gaussian', () => {
    const whole = new NumpyRandomState(99).randn(11);
    const split = new NumpyRandomState(99);
    // An odd first count leaves the polar method's second value cached for the next call.
    const joined = [...split.randn(5), ...split.randn(6)];
    expect(joined).toEqual(Array.from(whole));
  });
});

describe('torch state across calls', () => {
  it('small draws continue through the generator cache like successive torch.randn calls', () => {
    // randn(3) then randn(1) == one stream of scalar Box-Muller pairs: the 4th value is the
    // cached sine of the second pair.
    const split = new TorchGenerator(42);
    const joined = [...split.randn(3), ...split.randn(1)];
    const whole = new TorchGenerator(42).randn(4);
    expect(joined).toEqual(Array.from(whole));
  });

  it('block draws in two calls equal one call over the same 16-aligned counts', () => {
    const split = new TorchGenerator(5);
    const joined = [...split.randn(32), ...split.randn(16)];
    expect(joined).toEqual(Array.from(new TorchGenerator(5).randn(48)));
  });

  it('a count that is not a multiple of 16 redraws the last 16 values', () => {
    const ragged = new TorchGenerator(3).randn(20);
    const aligned = new TorchGenerator(3).randn(16);
    // The first block is untouched by the tail except where the redrawn window overlaps it.
    expect(Array.from(ragged.subarray(0, 4))).toEqual(Array.from(aligned.subarray(0, 4)));
    expect(Array.from(ragged.subarray(4, 16))).not.toEqual(Array.from(aligned.subarray(4, 16)));
  });
});
