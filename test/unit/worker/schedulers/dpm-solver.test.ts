import { describe, expect, it } from 'vitest';
import { CLEAN, SIGMAS, alphaBar, denoiseFromNoise, expectParity, maxAbsDiff } from './harness.js';
import { expectRecoveryFrom, range, scheduled, sd15 } from './harness.js';

/** The Karras sigma a multistep scheduler uses at t, read back from its VP noising alpha x0 + alpha sigma eps. */
function sigmaUsedAt(scheduler: ReturnType<typeof sd15>, t: number): number {
  const alpha = scheduler.addNoise(Float32Array.of(1), Float32Array.of(0), t)[0]!;
  return scheduler.addNoise(Float32Array.of(0), Float32Array.of(1), t)[0]! / alpha;
}

/** VP coefficients and half log-SNR of a Karras sigma. */
function vp(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return { alpha, sigma: sigma * alpha, lambda: Math.log(alpha) - Math.log(sigma * alpha) };
}

describe('dpmpp_2m scheduler (DPM-Solver++ 2M)', () => {
  it('spaces N + 1 points over linspace(0, 999) and drops the last', () => {
    const scheduler = scheduled('dpmpp_2m', 20);
    expect(scheduler.timesteps).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50,
    ]);
    expect(scheduler.timesteps).toEqual(range(20, (i) => Math.round(((20 - i) * 999) / 20)));
    scheduler.setTimesteps(50);
    expect(scheduler.timesteps.slice(0, 5)).toEqual([999, 979, 959, 939, 919]);
    expect(scheduler.timesteps.slice(-3)).toEqual([60, 40, 20]);
    expect(scheduler.initNoiseSigma).toBe(1);
  });

  it('works on the unscaled VP sample and noises like DDPM: sqrt(abar) x0 + sqrt(1 - abar) eps', () => {
    const scheduler = scheduled('dpmpp_2m', 20);
    const sample = Float32Array.of(0.5, -1);
    expect(scheduler.scaleModelInput(sample, 999)).toEqual(sample);
    const noisy = scheduler.addNoise(Float32Array.of(2), Float32Array.of(0.5), 449 + 1);
    expect(noisy[0]).toBeCloseTo(2 * Math.sqrt(alphaBar(450)) + 0.5 * Math.sqrt(1 - alphaBar(450)), 5);
  });

  it('takes a first-order step, then the second-order midpoint update from the last two estimates', () => {
    const scheduler = scheduled('dpmpp_2m', 20);
    const [s0, s1, s2] = [SIGMAS[999]!, SIGMAS[949]!, SIGMAS[899]!].map(vp) as [
      ReturnType<typeof vp>,
      ReturnType<typeof vp>,
      ReturnType<typeof vp>,
    ];
    const x = 3;
    const step1 = scheduler.step(Float32Array.of(0.9), 999, Float32Array.of(x));
    const data1 = (x - s0.sigma * 0.9) / s0.alpha;
    expect(step1.denoised?.[0]).toBeCloseTo(data1, 4);
    const h1 = s1.lambda - s0.lambda;
    const x1 = (s1.sigma / s0.sigma) * x - s1.alpha * (Math.exp(-h1) - 1) * data1;
    expect(step1.prevSample[0]).toBeCloseTo(x1, 4);

    const step2 = scheduler.step(Float32Array.of(0.7), 949, Float32Array.of(x1));
    const data2 = (x1 - s1.sigma * 0.7) / s1.alpha;
    const h2 = s2.lambda - s1.lambda;
    const r = h1 / h2;
    const d1 = (data2 - data1) / r;
    const x2 =
      (s2.sigma / s1.sigma) * x1 -
      s2.alpha * (Math.exp(-h2) - 1) * data2 -
      0.5 * s2.alpha * (Math.exp(-h2) - 1) * d1;
    expect(step2.prevSample[0]).toBeCloseTo(x2, 4);
  });

  it('recovers the clean latents exactly (the last step lands on sigma 0) for every prediction type', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample'] as const) {
      for (const name of ['dpmpp_2m', 'dpmpp_2m_karras'] as const) {
        const { latents } = denoiseFromNoise(
          scheduled(name, 15, { prediction_type: prediction }),
          prediction,
        );
        expect(maxAbsDiff(latents, CLEAN), `${name} ${prediction}`).toBeLessThan(1e-4);
      }
    }
  });

  it('starts mid-schedule from the timestep it is first given (img2img)', () => {
    expectRecoveryFrom(scheduled('dpmpp_2m', 20), 8, 12);
  });

  it('matches diffusers DPMSolverMultistepScheduler(dpmsolver++, order 2).from_config(SD 1.5)', () => {
    const reference = [-25.00096, 8.892884, -10.52539, 25.04857, 5.061007, -16.3305, 16.43939, -5.784];
    expectParity(sd15('dpmpp_2m'), reference);
  });
});

describe('dpmpp_2m_karras scheduler', () => {
  it('uses Karras sigmas (rho = 7) between the training extremes, at rounded timesteps', () => {
    const scheduler = sd15('dpmpp_2m_karras');
    scheduler.setTimesteps(20);
    expect(scheduler.timesteps).toEqual([
      999, 962, 921, 876, 827, 772, 710, 640, 561, 474, 380, 285, 197, 123, 69, 35, 15, 6, 2, 0,
    ]);
    scheduler.setTimesteps(50);
    // diffusers' 50-step Karras schedule repeats timestep 1: two sigmas round to it.
    expect(scheduler.timesteps).toEqual([
      999, 985, 970, 955, 940, 924, 907, 890, 871, 853, 833, 813, 791, 769, 746, 721, 696, 669, 641, 612, 581,
      549, 516, 481, 446, 409, 372, 335, 299, 263, 228, 195, 165, 137, 112, 90, 71, 55, 42, 32, 23, 17, 12, 8,
      6, 4, 2, 1, 1, 0,
    ]);
    scheduler.setTimesteps(20);
    const [min, max] = [SIGMAS[0]!, SIGMAS[999]!];
    const karras = range(20, (i) => (max ** (1 / 7) + (i / 19) * (min ** (1 / 7) - max ** (1 / 7))) ** 7);
    expect(karras[0]).toBeCloseTo(14.6146, 3);
    expect(karras[19]).toBeCloseTo(0.0292, 4);
    // The sigma of each step is the Karras value itself, not the table's value at the rounded timestep.
    for (const i of [0, 5, 10, 19]) {
      expect(sigmaUsedAt(scheduler, scheduler.timesteps[i]!) / karras[i]!, `step ${i}`).toBeCloseTo(1, 4);
    }
  });

  it('ignores use_karras_sigmas in the config: the name decides', () => {
    const plain = scheduled('dpmpp_2m', 20, { use_karras_sigmas: true });
    expect(plain.timesteps[1]).toBe(949);
  });

  it('matches diffusers DPMSolverMultistepScheduler with use_karras_sigmas on a fixed 20-step run', () => {
    const reference = [-26.00865, 9.068038, -10.46098, 25.88644, 4.487246, -16.94107, 16.67, -5.004005];
    expectParity(sd15('dpmpp_2m_karras'), reference);
  });
});
