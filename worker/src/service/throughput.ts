/** Recent throughput for heartbeats: jobs per minute and steps per second over a sliding window. */
const WINDOW_MS = 60_000;

export class ThroughputTracker {
  private readonly jobs: number[] = [];
  private readonly steps: number[] = [];
  private readonly images: number[] = [];

  constructor(private readonly startedAt = Date.now()) {}

  recordJob(images: number, now = Date.now()): void {
    this.jobs.push(now);
    for (let index = 0; index < images; index += 1) this.images.push(now);
  }

  recordStep(now = Date.now()): void {
    this.steps.push(now);
  }

  snapshot(now = Date.now()): { jobsPerMinute: number; stepsPerSecond: number; imagesPerSecond: number } {
    for (const series of [this.jobs, this.steps, this.images]) {
      const firstRecent = series.findIndex((at) => at > now - WINDOW_MS);
      series.splice(0, firstRecent === -1 ? series.length : firstRecent);
    }
    // A worker up for 10 s has a 10 s window, not a 60 s one.
    const seconds = Math.max(1, Math.min(WINDOW_MS, now - this.startedAt)) / 1000;
    return {
      jobsPerMinute: (this.jobs.length / seconds) * 60,
      stepsPerSecond: this.steps.length / seconds,
      imagesPerSecond: this.images.length / seconds,
    };
  }
}
