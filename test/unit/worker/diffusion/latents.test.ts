import { describe, expect, it } from 'vitest';
import { createNoiseGenerator } from '../../../../worker/src/diffusion/noise.js';
import { slerp } from '../../../../worker/src/diffusion/stages/initial-noise.js';
import { LATENT_SCALE, sampleInitLatents } from '../../../../worker/src/diffusion/stages/vae.js';

const norm = (values: Float32Array) => Math.sqrt(values.reduce((sum, value) => sum + value * value, 0));

describe('seed variation slerp', () => {
  const from = createNoiseGenerator('numpy', 1).randn(256);
  const to = createNoiseGenerator('numpy', 2).randn(256);

  it('returns the first draw unchanged at 0 and the second at 1', () => {
    expect(slerp(0, from, to)).toBe(from);
    expect(slerp(1, from, to)).toEqual(to);
  });

  it('moves along the sphere: the norm stays that of unit Gaussian noise', () => {
    const halfway = slerp(0.5, from, to);
    // Two independent draws are nearly orthogonal; a linear blend would shrink the norm by ~1/sqrt(2).
    expect(norm(halfway) / Math.sqrt(256)).toBeGreaterThan(0.85);
    const near = slerp(0.05, from, to);
    const distanceNear = norm(near.map((value, index) => value - from[index]!));
    const distanceHalf = norm(halfway.map((value, index) => value - from[index]!));
    expect(distanceNear).toBeLessThan(distanceHalf);
  });

  it('blends linearly when the draws are parallel', () => {
    const doubled = from.map((value) => 2 * value);
    const blended = slerp(0.25, from, doubled);
    blended.forEach((value, index) => {
      expect(value).toBeCloseTo(1.25 * from[index]!, 5);
    });
  });
});

describe('img2img init latents', () => {
  it('passes a graph-sampled encoder output through (already scaled)', () => {
    const latents = Float32Array.of(1, 2, 3);
    expect(sampleInitLatents({ kind: 'sampled', latents }, () => new Float32Array(3))).toBe(latents);
  });

  it('samples mean + std * eps from the job generator and scales by 0.18215', () => {
    const mean = Float32Array.of(0.5, -1, 2);
    const std = Float32Array.of(1, 0.5, 0);
    const eps = createNoiseGenerator('numpy', 9).randn(3);
    const generator = createNoiseGenerator('numpy', 9);
    const latents = sampleInitLatents({ kind: 'gaussian', mean, std }, (count) => generator.randn(count));
    for (let i = 0; i < 3; i++) {
      expect(latents[i]).toBeCloseTo(LATENT_SCALE * (mean[i]! + std[i]! * eps[i]!), 6);
    }
  });
});
