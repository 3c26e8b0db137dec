/** Per-stage wall times of one generation, and how much of it onnxruntime itself took. */
import { aroundRuns } from './backend/around-runs.js';
import type { InferenceModel } from './backend/types.js';
import type { PeakRss } from './peak-rss.js';

export const STAGES = [
  'tokenize',
  'textEncoder',
  'vaeEncoder',
  'noise',
  'unet',
  'scheduler',
  'vaeDecoder',
  'safety',
] as const;
export type StageName = (typeof STAGES)[number];

export interface GenerationTimings {
  /** Milliseconds per stage; stages a job skips (vaeEncoder for txt2img, safety when off) are 0. */
  stages: Record<StageName, number>;
  /** Milliseconds of each UNet call, in order. */
  unetStepMs: number[];
  /** Milliseconds spent inside model runs; `totalMs - runtimeMs` is the pipeline's own overhead. */
  runtimeMs: number;
  totalMs: number;
  /** Peak process RSS (bytes) during each stage that ran, when the caller passed a sampler. */
  peakRssBytes?: Partial<Record<StageName, number>>;
}

export class StageClock {
  readonly stages: Record<StageName, number> = {
    tokenize: 0,
    textEncoder: 0,
    vaeEncoder: 0,
    noise: 0,
    unet: 0,
    scheduler: 0,
    vaeDecoder: 0,
    safety: 0,
  };
  runtimeMs = 0;
  private readonly started = performance.now();
  private readonly peakRssBytes: Partial<Record<StageName, number>> = {};

  constructor(private readonly memory?: PeakRss) {}

  /** Runs `work` and adds its duration to `stage`. */
  async time<T>(stage: StageName, work: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await this.track(stage, work);
    } finally {
      this.stages[stage] += performance.now() - start;
    }
  }

  /** Runs `work`, recording the peak RSS during it for `stage` when memory is tracked. */
  async track<T>(stage: StageName, work: () => Promise<T> | T): Promise<T> {
    if (this.memory === undefined) return work();
    this.memory.reset();
    try {
      return await work();
    } finally {
      this.peakRssBytes[stage] = Math.max(this.peakRssBytes[stage] ?? 0, this.memory.peakBytes());
    }
  }

  /** The same model, with the time of every run added to `runtimeMs`. */
  measure(model: InferenceModel): InferenceModel {
    return aroundRuns(model, async (run) => {
      const start = performance.now();
      try {
        return await run();
      } finally {
        this.runtimeMs += performance.now() - start;
      }
    });
  }

  finish(unetStepMs: number[]): GenerationTimings {
    return {
      stages: { ...this.stages },
      unetStepMs,
      runtimeMs: this.runtimeMs,
      totalMs: performance.now() - this.started,
      ...(this.memory === undefined ? {} : { peakRssBytes: { ...this.peakRssBytes } }),
    };
  }
}
