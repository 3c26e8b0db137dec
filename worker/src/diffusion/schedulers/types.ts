import type { SchedulerName } from '@sdbot/shared';

/**
 * A diffusers `scheduler_config.json`, snake_case keys as written there. Each scheduler reads the keys
 * its diffusers class takes and ignores the rest, so one model's config serves every scheduler.
 */
export interface SchedulerConfig {
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  trained_betas?: number[] | null;
  steps_offset?: number;
  set_alpha_to_one?: boolean;
  skip_prk_steps?: boolean;
  clip_sample?: boolean;
  clip_sample_range?: number;
  prediction_type?: 'epsilon' | 'v_prediction' | 'sample';
  timestep_spacing?: 'leading' | 'trailing' | 'linspace';
  use_karras_sigmas?: boolean;
  rescale_betas_zero_snr?: boolean;
  final_sigmas_type?: 'zero' | 'sigma_min';
  solver_order?: number;
  lower_order_final?: boolean;
  euler_at_final?: boolean;
  lambda_min_clipped?: number;
  disable_corrector?: number[];
  sigma_min?: number | null;
  sigma_max?: number | null;
  original_inference_steps?: number;
  timestep_scaling?: number;
  [key: string]: unknown;
}

/** Standard normal samples; the seeded noise module provides it. */
export interface NoiseSource {
  randn(count: number): Float32Array;
}

export interface StepResult {
  prevSample: Float32Array;
  /** The scheduler's estimate of the clean latents at this step (diffusers' `pred_original_sample`). */
  denoised?: Float32Array;
}

/**
 * One diffusion sampler with diffusers' semantics. Arrays are flat `batch x 4 x h x w` latents; every
 * method returns a new array and never modifies its arguments.
 */
export interface Scheduler {
  readonly name: SchedulerName;
  setTimesteps(numInferenceSteps: number): void;
  /** The timesteps of the current schedule; the UNet is called once per entry. Do not modify it. */
  readonly timesteps: number[];
  /** Multiplier for the initial unit-variance noise. */
  readonly initNoiseSigma: number;
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  step(modelOutput: Float32Array, t: number, sample: Float32Array, rng?: NoiseSource): StepResult;
  /** Noises clean latents to the level of timestep `t` (img2img). */
  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array;
}
