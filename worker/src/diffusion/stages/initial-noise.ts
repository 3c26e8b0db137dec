/**
 * Each image's starting noise: a seeded draw, optionally blended with a second seed's draw by
 * spherical interpolation (seed variation), so nearby strengths give nearby images.
 */

/** Cosine above which the two draws are treated as parallel and blended linearly. */
const PARALLEL_COSINE = 0.9995;

/**
 * Spherical interpolation from `from` (strength 0, returned unchanged) to `to` (strength 1) over
 * the whole tensor, computed in double precision.
 */
export function slerp(strength: number, from: Float32Array, to: Float32Array): Float32Array {
  if (strength === 0) return from;
  let dot = 0;
  let fromNorm = 0;
  let toNorm = 0;
  for (let i = 0; i < from.length; i++) {
    const a = from[i] ?? 0;
    const b = to[i] ?? 0;
    dot += a * b;
    fromNorm += a * a;
    toNorm += b * b;
  }
  const cosine = dot / Math.sqrt(fromNorm * toNorm);
  const out = new Float32Array(from.length);
  let fromWeight = 1 - strength;
  let toWeight = strength;
  if (Math.abs(cosine) <= PARALLEL_COSINE) {
    const omega = Math.acos(cosine);
    const sinOmega = Math.sin(omega);
    fromWeight = Math.sin((1 - strength) * omega) / sinOmega;
    toWeight = Math.sin(strength * omega) / sinOmega;
  }
  for (let i = 0; i < out.length; i++) out[i] = fromWeight * (from[i] ?? 0) + toWeight * (to[i] ?? 0);
  return out;
}
