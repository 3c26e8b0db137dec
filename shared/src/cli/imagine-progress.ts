/**
 * `sdbot imagine` on a terminal: one progress bar line for the job, redrawn in place: the queue
 * position while it waits, then the step, percent, UNet iterations per second and time left.
 * Without a terminal, imagine keeps its plain `step N/M` lines (scripts read them).
 *
 * The bar's percent, speed and ETA count UNet calls, the work the worker reports. The step shown
 * is in the steps the user asked for (img2img: the `strength` share of them): PNDM (PLMS) spends
 * one extra UNet call warming up its multistep history (N steps are N + 1 calls) and Heun two
 * calls per step but the last; the bar says so rather than showing `9/9` for 8 steps.
 */
import { SingleBar } from 'cli-progress';
import type { SchedulerName } from '../protocol/job.js';
import type { Progress } from '../protocol/progress.js';

/** Denoising steps a job runs: the steps asked for, or img2img's `strength` share of them. */
export function stepsToRun(job: { steps: number; strength?: number | undefined; source?: unknown }): number {
  if (job.source === undefined || job.strength === undefined) return job.steps;
  return Math.min(job.steps, Math.max(1, Math.floor(job.steps * job.strength)));
}

/** Why a worker reports more UNet calls than steps. */
function extraCallsNote(scheduler: SchedulerName | undefined, extra: number): string | undefined {
  if (extra <= 0) return undefined;
  if (scheduler === 'pndm' && extra === 1) return '(+1 PNDM warm-up call)';
  if (scheduler === 'heun') return '(Heun: 2 UNet calls per step)';
  return `(+${extra} UNet calls)`;
}

export interface ImagineBarOptions {
  stream: NodeJS.WritableStream;
  /** Absent for jobs without a denoising schedule (upscales). */
  scheduler?: SchedulerName | undefined;
  /** Steps the job runs (`stepsToRun`); the worker's total counts UNet calls. Default: the total. */
  steps?: number | undefined;
  now?: () => number;
}

export class ImagineBar {
  private readonly bar: SingleBar;
  private readonly scheduler: SchedulerName | undefined;
  private readonly steps: number | undefined;
  private readonly now: () => number;
  private started = false;
  private running = false;
  private firstStep: { at: number; step: number } | undefined;
  private preview: string | undefined;
  private last: Progress | undefined;

  constructor({ stream, scheduler, steps, now = Date.now }: ImagineBarOptions) {
    this.scheduler = scheduler;
    this.steps = steps;
    this.now = now;
    this.bar = new SingleBar({
      stream,
      format: '{bar} {percentage}% | {label}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
      barCompleteChar: '#',
      barIncompleteChar: '.',
      etaBuffer: 20,
    });
  }

  /** While the job waits: how many jobs are ahead of it (`capped`: at least that many). */
  queued(ahead: number | null, capped = false): void {
    if (this.running) return;
    const label =
      ahead === null
        ? 'queued'
        : `queued, ${ahead}${capped ? '+' : ''} ${ahead === 1 ? 'job' : 'jobs'} ahead`;
    this.ensureStarted(1, { label });
    this.bar.update(0, { label });
  }

  step(progress: Progress): void {
    this.last = progress;
    const at = this.now();
    this.running = true;
    this.firstStep ??= { at, step: progress.step };
    const steps = Math.min(this.steps ?? progress.total, progress.total);
    const shown = Math.min(steps, Math.floor((progress.step * steps) / progress.total));
    const seconds = (at - this.firstStep.at) / 1000;
    const calls = progress.step - this.firstStep.step;
    const rate = seconds > 0 && calls > 0 ? calls / seconds : undefined;
    const eta = rate === undefined ? '--' : formatSeconds((progress.total - progress.step) / rate);
    const parts = [
      `step ${shown}/${steps}`,
      rate === undefined ? '-- it/s' : `${rate.toFixed(2)} it/s`,
      `ETA ${eta}`,
    ];
    const note = extraCallsNote(this.scheduler, progress.total - steps);
    if (note !== undefined) parts.push(note);
    if (this.preview !== undefined) parts.push(`preview ${this.preview}`);
    const label = parts.join(' | ');
    this.ensureStarted(progress.total, { label });
    this.bar.setTotal(progress.total);
    this.bar.update(progress.step, { label });
  }

  /** A preview image was written to `path`; the bar shows it. */
  previewWritten(path: string): void {
    this.preview = path;
    if (this.last !== undefined && this.started) this.step(this.last);
  }

  /** Leaves the last state on its line and moves below it. */
  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }

  private ensureStarted(total: number, payload: { label: string }): void {
    if (this.started) return;
    this.started = true;
    this.bar.start(total, 0, payload);
  }
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  return `${minutes}m${String(whole % 60).padStart(2, '0')}s`;
}
