/**
 * The training noise schedule every scheduler derives from: betas, cumulative alphas and the sigma
 * table, as float32 tables built the way diffusers builds its torch float32 tensors.
 */
import { cumulativeProductFloat32, f32, torchLinspaceFloat32 } from './numeric.js';

export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

export interface TrainingScheduleSettings {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas: readonly number[] | null;
  rescaleBetasZeroSnr: boolean;
}

/** Betas that discretize the squared-cosine alpha-bar curve (improved DDPM), capped at 0.999. */
function cosineBetas(count: number): Float32Array {
  const alphaBar = (t: number): number => Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  const betas = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    betas[i] = Math.min(1 - alphaBar((i + 1) / count) / alphaBar(i / count), 0.999);
  }
  return betas;
}

/** Rescales betas so the last timestep has zero SNR ("Common Diffusion Noise Schedules ... Flawed"). */
function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const alphas = betas.map((beta) => f32(1 - beta));
  const roots = cumulativeProductFloat32(alphas).map((value) => Math.sqrt(value));
  const first = roots[0] ?? 0;
  const last = roots[roots.length - 1] ?? 0;
  const scale = f32(first / f32(first - last));
  const alphaBars = roots.map((root) => {
    const shifted = f32(f32(root - last) * scale);
    return shifted * shifted;
  });
  return alphaBars.map((alphaBar, i) => {
    const alpha = i === 0 ? alphaBar : f32(alphaBar / (alphaBars[i - 1] ?? 1));
    return 1 - alpha;
  });
}

export function trainingBetas(settings: TrainingScheduleSettings): Float32Array {
  const { numTrainTimesteps: count } = settings;
  let betas: Float32Array;
  if (settings.trainedBetas !== null) {
    betas = Float32Array.from(settings.trainedBetas);
  } else if (settings.betaSchedule === 'linear') {
    betas = torchLinspaceFloat32(settings.betaStart, settings.betaEnd, count);
  } else if (settings.betaSchedule === 'scaled_linear') {
    betas = torchLinspaceFloat32(Math.sqrt(settings.betaStart), Math.sqrt(settings.betaEnd), count).map(
      (root) => root * root,
    );
  } else {
    betas = cosineBetas(count);
  }
  return settings.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
}

/** `alphas_cumprod`: the fraction of signal variance left at each training timestep. */
export function alphasCumprod(betas: Float32Array): Float32Array {
  return cumulativeProductFloat32(betas.map((beta) => f32(1 - beta)));
}

/**
 * Sigma-parameterized schedulers set the last alpha bar to 2^-24 after a zero-SNR rescale, so the
 * terminal sigma stays finite.
 */
export function alphasCumprodForSigmas(betas: Float32Array, rescaledToZeroSnr: boolean): Float32Array {
  const cumprod = alphasCumprod(betas);
  if (rescaledToZeroSnr) cumprod[cumprod.length - 1] = 2 ** -24;
  return cumprod;
}

/** `sqrt((1 - abar) / abar)` per training timestep (ascending in t), float32 like the reference. */
export function sigmaTable(cumprod: Float32Array): Float32Array {
  return cumprod.map((alphaBar) => Math.sqrt(f32(f32(1 - alphaBar) / alphaBar)));
}
