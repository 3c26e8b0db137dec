/**
 * A1111's default ("Original") emphasis: each token's output vector of the text encoder is
 * multiplied by its weight, then the whole chunk is rescaled so its mean is what it was before.
 * Float32 throughout, as the reference's tensors are; a chunk of weights all 1 is left untouched.
 */

function mean(values: Float32Array): number {
  let sum = 0;
  for (const value of values) sum += value;
  return Math.fround(sum / values.length);
}

/**
 * Applies `weights` (one per token) to `hidden` (`[tokens, width]`, one chunk) in place.
 * Returns whether anything changed.
 */
export function applyEmphasis(hidden: Float32Array, weights: readonly number[]): boolean {
  if (weights.every((weight) => weight === 1)) return false;
  const width = hidden.length / weights.length;
  const originalMean = mean(hidden);
  weights.forEach((weight, token) => {
    const multiplier = Math.fround(weight);
    const row = hidden.subarray(token * width, (token + 1) * width);
    for (let i = 0; i < row.length; i++) row[i] = Math.fround((row[i] ?? 0) * multiplier);
  });
  const scale = Math.fround(originalMean / mean(hidden));
  for (let i = 0; i < hidden.length; i++) hidden[i] = Math.fround((hidden[i] ?? 0) * scale);
  return true;
}
