/**
 * The process's peak resident memory over a stretch of work. onnxruntime allocates a step's
 * activations for the length of the step (seconds) in the inference thread, so sampling the
 * whole process's RSS from the main thread every few milliseconds sees each stage's peak.
 */
const DEFAULT_INTERVAL_MS = 5;

export class PeakRss {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = DEFAULT_INTERVAL_MS) {}

  /** Samples until `stop`; the timer never keeps the process alive. */
  start(): this {
    this.reset();
    this.timer ??= setInterval(() => {
      this.sample();
    }, this.intervalMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
    return rss;
  }

  /** Starts a new stretch at the current RSS. */
  reset(): void {
    this.peak = 0;
    this.sample();
  }

  /** The highest RSS since the last reset, in bytes (sampled once more now). */
  peakBytes(): number {
    this.sample();
    return this.peak;
  }

  /** Runs `work` as its own stretch and returns its result with the peak RSS during it. */
  async during<T>(work: () => Promise<T> | T): Promise<{ value: T; peakBytes: number }> {
    this.reset();
    const value = await work();
    return { value, peakBytes: this.peakBytes() };
  }
}

export const MIB = 1024 ** 2;

export function formatMiB(bytes: number): string {
  return `${Math.round(bytes / MIB)} MiB`;
}
