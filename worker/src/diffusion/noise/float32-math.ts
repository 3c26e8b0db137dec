/**
 * Single-precision log, sine and cosine exactly as torch computes them in its AVX2 normal sampler
 * (Pommier's cephes-derived `log256_ps` and `sincos256_ps`). Every operation rounds to float32 the
 * way one SIMD lane does, so the results agree with torch's rather than differing by an ulp or two
 * as the platform's `Math.log`/`Math.cos` would.
 *
 * x86 builds of torch are compiled with floating-point contraction: the compiler fuses a multiply
 * feeding an add into one FMA, and where an add has two products as operands it fuses the first.
 * `fma32` marks those places; which ones are fused was confirmed against `torch.randn` output.
 */
const fround = Math.fround;

/**
 * float32 fused multiply-add, `a * b + c` rounded once. The product of two floats is exact in a
 * double, so only the sum is rounded twice (to double, then to float); that differs from a true FMA
 * only when the double lands exactly on a float32 midpoint, about once in 2^29 operations and then
 * by one ulp. Settling that case exactly would cost more than the rest of the sampler together.
 */
function fma32(a: number, b: number, c: number): number {
  return fround(a * b + c);
}

const SQRT_HALF = fround(Math.SQRT1_2);
const LOG_P0 = fround(7.0376836292e-2);
const LOG_P1 = fround(-1.151461031e-1);
const LOG_P2 = fround(1.167699874e-1);
const LOG_P3 = fround(-1.2420140846e-1);
const LOG_P4 = fround(1.4249322787e-1);
const LOG_P5 = fround(-1.6668057665e-1);
const LOG_P6 = fround(2.0000714765e-1);
const LOG_P7 = fround(-2.4999993993e-1);
const LOG_P8 = fround(3.3333331174e-1);
const LOG_Q1 = fround(-2.1219444e-4);
const LOG_Q2 = fround(0.693359375);

const FOUR_OVER_PI = fround(1.27323954473516);
// Pi/4 split in three parts so the range reduction keeps extra precision.
const MINUS_DP1 = fround(-0.78515625);
const MINUS_DP2 = fround(-2.4187564849853515625e-4);
const MINUS_DP3 = fround(-3.774894977445941e-8);
const SIN_P0 = fround(-1.9515295891e-4);
const SIN_P1 = fround(8.3321608736e-3);
const SIN_P2 = fround(-1.6666654611e-1);
const COS_P0 = fround(2.443315711809948e-5);
const COS_P1 = fround(-1.388731625493765e-3);
const COS_P2 = fround(4.166664568298827e-2);

const MIN_NORMAL = 1.1754943508222875e-38;
const floatView = new Float32Array(1);
const bitsView = new Uint32Array(floatView.buffer);

/** Natural logarithm of a positive float32 `x`, in float32 arithmetic (NaN for x <= 0). */
export function logFloat32(x: number): number {
  if (!(x > 0)) return Number.NaN;
  floatView[0] = Math.max(x, MIN_NORMAL);
  const bits = bitsView[0] ?? 0;
  let exponent = (bits >>> 23) - 127 + 1;
  // Mantissa scaled into [0.5, 1).
  bitsView[0] = (bits & 0x807fffff) | 0x3f000000;
  const mantissa = floatView[0];
  let m: number;
  if (mantissa < SQRT_HALF) {
    exponent -= 1;
    m = fround(fround(mantissa - 1) + mantissa);
  } else {
    m = fround(mantissa - 1);
  }
  const z = fround(m * m);
  let y = LOG_P0;
  y = fma32(y, m, LOG_P1);
  y = fma32(y, m, LOG_P2);
  y = fma32(y, m, LOG_P3);
  y = fma32(y, m, LOG_P4);
  y = fma32(y, m, LOG_P5);
  y = fma32(y, m, LOG_P6);
  y = fma32(y, m, LOG_P7);
  y = fma32(y, m, LOG_P8);
  y = fround(y * m);
  y = fma32(y, z, fround(exponent * LOG_Q1));
  y = fma32(z, -0.5, y);
  return fma32(exponent, LOG_Q2, fround(m + y));
}

/** Sine and cosine of float32 `angle` in float32 arithmetic, written to `out` as [sin, cos]. */
export function sinCosFloat32(angle: number, out: Float64Array): void {
  let x = Math.abs(angle);
  let octant = Math.trunc(fround(x * FOUR_OVER_PI));
  octant = (octant + 1) & ~1;
  const reduction = octant;
  x = fma32(reduction, MINUS_DP1, x);
  x = fma32(reduction, MINUS_DP2, x);
  x = fma32(reduction, MINUS_DP3, x);

  const z = fround(x * x);
  let cosine = COS_P0;
  cosine = fma32(cosine, z, COS_P1);
  cosine = fma32(cosine, z, COS_P2);
  cosine = fround(cosine * z);
  cosine = fma32(cosine, z, -fround(z * 0.5));
  cosine = fround(cosine + 1);

  let sine = SIN_P0;
  sine = fma32(sine, z, SIN_P1);
  sine = fma32(sine, z, SIN_P2);
  sine = fround(sine * z);
  sine = fma32(sine, x, x);

  // Octants 2 and 6 (mod 8) swap the two polynomials; bit 4 of the octant flips the signs.
  const swapped = (octant & 2) !== 0;
  const sinNegative = angle < 0 !== ((octant & 4) !== 0);
  const cosNegative = ((octant - 2) & 4) === 0;
  const sinValue = swapped ? cosine : sine;
  const cosValue = swapped ? sine : cosine;
  out[0] = sinNegative ? -sinValue : sinValue;
  out[1] = cosNegative ? -cosValue : cosValue;
}
