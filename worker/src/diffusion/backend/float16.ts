/**
 * IEEE 754 half precision <-> single precision for models exported in float16. onnxruntime-node
 * takes and returns half tensors as Uint16Array bit patterns (Node 20 has no Float16Array), so the
 * pipeline keeps float32 everywhere and converts at the session boundary.
 */

function halfBitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Every half value decoded once: decoding a tensor is then one table read per element. */
const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(0x10000);
  for (let bits = 0; bits < 0x10000; bits++) table[bits] = halfBitsToNumber(bits);
  return table;
})();

/** Rounds the float32 with bit pattern `bits` to the nearest half (ties to even). */
function floatBitsToHalfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    // Infinity stays infinite; NaN stays NaN (quiet bit set so the payload never reads as infinity).
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half (or zero): shift the full significand into the 10-bit field and round.
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    let half = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is exactly the rounded value (or infinity).
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** float32 values -> half bit patterns, rounding to nearest even. */
export function float32ToFloat16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = floatBitsToHalfBits(bits[i] ?? 0);
  return out;
}

/** Half bit patterns -> float32 values (exact: every half is representable in float32). */
export function float16ToFloat32(halves: Uint16Array, out = new Float32Array(halves.length)): Float32Array {
  for (let i = 0; i < halves.length; i++) out[i] = HALF_TO_FLOAT[halves[i] ?? 0] ?? 0;
  return out;
}
