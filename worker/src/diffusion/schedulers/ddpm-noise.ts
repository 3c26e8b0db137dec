/** Forward noising of the alpha-bar (DDPM-type) schedulers: `sqrt(abar) x0 + sqrt(1 - abar) eps`. */
import { SdbotError, type SchedulerName } from '@sdbot/shared';
import { requireSameLength } from './common.js';
import { f32 } from './numeric.js';

/** `alphas_cumprod[t]` for an integer training timestep, with a clear error for anything else. */
export function alphaBarAt(name: SchedulerName, alphasCumprod: Float32Array, t: number): number {
  const alphaBar = Number.isInteger(t) ? alphasCumprod[t] : undefined;
  if (alphaBar === undefined) {
    throw new SdbotError(
      'INTERNAL',
      `${name} scheduler: timestep ${t} is not a training timestep (0..${alphasCumprod.length - 1})`,
    );
  }
  return alphaBar;
}

export function addNoiseDdpm(
  name: SchedulerName,
  alphasCumprod: Float32Array,
  original: Float32Array,
  noise: Float32Array,
  t: number,
): Float32Array {
  requireSameLength(name, 'original and noise', original, noise);
  const alphaBar = alphaBarAt(name, alphasCumprod, t);
  const signal = f32(Math.sqrt(alphaBar));
  const noiseScale = f32(Math.sqrt(f32(1 - alphaBar)));
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = signal * (original[i] ?? 0) + noiseScale * (noise[i] ?? 0);
  return out;
}
