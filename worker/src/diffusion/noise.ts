/**
 * Seeded initial noise, bit-compatible with the generators the reference pipelines use, so a seed
 * shared from another Stable Diffusion front end reproduces its image.
 */
import type { NoiseSource } from '@sdbot/shared';
import { NumpyRandomState } from './noise/numpy-random-state.js';
import { TorchGenerator } from './noise/torch-generator.js';

export { Mt19937 } from './noise/mt19937.js';
export { NumpyRandomState } from './noise/numpy-random-state.js';
export { TorchGenerator } from './noise/torch-generator.js';

/** Same values as `NOISE_SOURCES` in `@sdbot/shared`. */
export type NoiseSourceName = NoiseSource;

export interface NoiseGenerator {
  /** Next `count` standard normals, as the reference draws them for a tensor of that many elements, advancing the state. */
  randn(count: number): Float32Array;
}

/** A generator seeded like `numpy.random.RandomState(seed)` or `torch.Generator().manual_seed(seed)`. */
export function createNoiseGenerator(source: NoiseSourceName, seed: number): NoiseGenerator {
  switch (source) {
    case 'numpy': {
      const state = new NumpyRandomState(seed);
      // diffusers casts the float64 draw to the model dtype (`.astype(np.float32)`).
      return { randn: (count) => new Float32Array(state.randn(count)) };
    }
    case 'torch':
      return new TorchGenerator(seed);
  }
}
