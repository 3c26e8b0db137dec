import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from '../../../../worker/src/diffusion/backend/float16.js';
import { castTensor } from '../../../../worker/src/diffusion/backend/tensor.js';

/** Exact value of a half bit pattern, computed independently of the converter under test. */
function halfValue(bits: number): number {
  const sign = bits >= 0x8000 ? -1 : 1;
  const exponent = Math.floor(bits / 1024) % 32;
  const mantissa = bits % 1024;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : Number.NaN;
  return exponent === 0 ? sign * mantissa * 2 ** -24 : sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

function toHalf(value: number): number {
  return float32ToFloat16(Float32Array.of(value))[0]!;
}

describe('float16 conversion', () => {
  it('decodes every half bit pattern to its exact value', () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, bits) => bits);
    const decoded = float16ToFloat32(all);
    const wrong = [...all].filter((bits) => {
      const expected = halfValue(bits);
      return Number.isNaN(expected) ? !Number.isNaN(decoded[bits]) : !Object.is(decoded[bits], expected);
    });
    expect(wrong).toEqual([]);
  });

  it('round-trips every half exactly (including -0 and infinities; NaN stays NaN)', () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, bits) => bits);
    const back = float32ToFloat16(float16ToFloat32(all));
    const wrong = [...all].filter((bits) =>
      Number.isNaN(halfValue(bits)) ? !Number.isNaN(halfValue(back[bits]!)) : back[bits] !== bits,
    );
    expect(wrong).toEqual([]);
  });

  it('rounds to the nearest half, ties to even, overflow to infinity', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: even mantissa wins
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie between odd 0x3c01 and even 0x3c02
    expect(toHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65519)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // halfway to 2^16 rounds to infinity
    expect(toHalf(-1e9)).toBe(0xfc00);
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(2 ** -25)).toBe(0x0000); // tie with zero: even
    expect(toHalf(2 ** -25 * 1.5)).toBe(0x0001);
    expect(toHalf(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 ulps: even
    expect(toHalf(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the normal range
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(halfValue(toHalf(Number.NaN)))).toBe(true);
  });

  it('picks the nearest representable half for arbitrary float32 values', () => {
    let state = 12345;
    const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    const bits = Uint32Array.from({ length: 100_000 }, () => {
      // Exponents around the half range (2^-28 .. 2^17) so every rounding path is exercised.
      const exponent = 99 + (random() % 46);
      return ((random() & 1) << 31) | (exponent << 23) | (random() & 0x7fffff);
    });
    const values = new Float32Array(bits.buffer);
    const halves = float32ToFloat16(values);
    const wrong: string[] = [];
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      const h = halves[i]!;
      const chosen = halfValue(h);
      const magnitude = h & 0x7fff;
      const sign = h & 0x8000;
      if (!Number.isFinite(chosen)) {
        // Infinity only from at least halfway past the largest finite half.
        if (Math.abs(x) < 65520) wrong.push(`${x} -> infinity`);
        continue;
      }
      for (const neighbour of [magnitude - 1, magnitude + 1]) {
        if (neighbour < 0 || neighbour >= 0x7c00) continue;
        const d = Math.abs(x - chosen);
        const dOther = Math.abs(x - halfValue(sign | neighbour));
        if (d > dOther || (d === dOther && magnitude % 2 === 1)) wrong.push(`${x} -> ${h}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('castTensor', () => {
  it('truncates float timesteps into int64 the way numpy astype does', () => {
    const cast = castTensor(
      { dtype: 'float32', data: Float32Array.of(999, 946.47, 0.9), dims: [3] },
      'int64',
    );
    expect(cast).toEqual({ dtype: 'int64', data: BigInt64Array.of(999n, 946n, 0n), dims: [3] });
  });

  it('widens int32 ids to int64 and converts float32 <-> float16', () => {
    const ids = castTensor({ dtype: 'int32', data: Int32Array.of(49406, 320, 49407), dims: [1, 3] }, 'int64');
    expect(ids.data).toEqual(BigInt64Array.of(49406n, 320n, 49407n));
    const half = castTensor(
      { dtype: 'float32', data: Float32Array.of(0.5, -2, 1 / 3), dims: [3] },
      'float16',
    );
    expect(half.dtype).toBe('float16');
    const back = castTensor(half, 'float32');
    expect(Array.from(back.data as Float32Array)).toEqual([0.5, -2, 0.333251953125]);
  });

  it('returns the same tensor when the dtype already matches', () => {
    const tensor = { dtype: 'float32', data: Float32Array.of(1), dims: [1] } as const;
    expect(castTensor(tensor, 'float32')).toBe(tensor);
  });
});
