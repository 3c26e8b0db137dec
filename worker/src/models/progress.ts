/**
 * Download progress on stderr: a bar redrawn in place on a terminal (bytes done and total, rate,
 * time left, and each file in flight with its percent), plain lines every few seconds otherwise
 * (logs, CI), and a line per finished file.
 */
import type { DownloadEvent } from './model-file.js';
import { formatBytes, formatDuration } from './units.js';

export interface ProgressSnapshot {
  doneBytes: number;
  totalBytes: number;
  /** Bytes per second over the last few seconds; undefined until there is enough to measure. */
  bytesPerSecond: number | undefined;
  filesDone: number;
  fileCount: number;
}

export interface DownloadProgressOptions {
  stream: NodeJS.WritableStream;
  /** Redraw one line in place (a terminal) instead of printing periodic lines. */
  interactive: boolean;
  /** How often a non-interactive run prints a status line. */
  lineIntervalMs?: number;
  now?: () => number;
}

const REDRAW_INTERVAL_MS = 100;
const RATE_WINDOW_MS = 5000;
const BAR_WIDTH = 24;

/** `42% [##########..............] 1.45 GiB / 3.44 GiB  35.2 MiB/s  ETA 57s  3/13 files` */
export function formatProgressLine(snapshot: ProgressSnapshot, { bar }: { bar: boolean }): string {
  const fraction = snapshot.totalBytes === 0 ? 1 : Math.min(1, snapshot.doneBytes / snapshot.totalBytes);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const filled = Math.round(fraction * BAR_WIDTH);
  const drawn = bar ? ` [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]` : '';
  const rate = snapshot.bytesPerSecond;
  const remaining = snapshot.totalBytes - snapshot.doneBytes;
  const eta = rate === undefined || rate <= 0 ? undefined : remaining / rate;
  const parts = [
    `${percent}${drawn} ${formatBytes(snapshot.doneBytes)} / ${formatBytes(snapshot.totalBytes)}`,
    rate === undefined ? '-- /s' : `${formatBytes(rate)}/s`,
    `ETA ${formatDuration(eta)}`,
    `${snapshot.filesDone}/${snapshot.fileCount} files`,
  ];
  return parts.join(bar ? '  ' : ', ');
}

export class DownloadProgress {
  private readonly stream: NodeJS.WritableStream;
  private readonly interactive: boolean;
  private readonly lineIntervalMs: number;
  private readonly now: () => number;
  private readonly fileBytes = new Map<string, number>();
  /** Files being fetched now: bytes so far and size, for the per-file part of the bar. */
  private readonly active = new Map<string, { bytes: number; size: number }>();
  private totalBytes = 0;
  private fileCount = 0;
  private filesDone = 0;
  /** Bytes received in this run, for the rate (resumed and skipped bytes do not count). */
  private received = 0;
  private samples: { time: number; received: number }[] = [];
  private lastDraw = Number.NEGATIVE_INFINITY;
  private lastLine: number;
  private barShown = false;

  constructor(options: DownloadProgressOptions) {
    this.stream = options.stream;
    this.interactive = options.interactive;
    this.lineIntervalMs = options.lineIntervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.lastLine = this.now();
  }

  readonly handle = (event: DownloadEvent): void => {
    switch (event.type) {
      case 'download:plan': {
        this.fileCount = event.files.length;
        this.totalBytes = event.files.reduce((sum, file) => sum + file.size, 0);
        const from = event.root === '' ? '' : ` (export in ${event.root})`;
        this.print(
          `${event.repo} at ${event.commit.slice(0, 12)}${from}: ${event.files.length} files, ${formatBytes(this.totalBytes)}`,
        );
        break;
      }
      case 'hub:retry':
        this.print(
          `retrying the hub in ${formatDuration(event.delayMs / 1000)} (attempt ${event.attempt}/${event.attempts}): ${event.reason}`,
        );
        break;
      case 'file:verify':
        break;
      case 'file:skip':
        this.fileBytes.set(event.file.path, event.file.size);
        this.filesDone += 1;
        this.print(`verified ${event.file.path} (${formatBytes(event.file.size)}, already present)`);
        break;
      case 'file:progress':
        this.fileBytes.set(event.file.path, event.bytes);
        this.active.set(event.file.path, { bytes: event.bytes, size: event.file.size });
        this.received += event.delta;
        this.tick();
        break;
      case 'file:done':
        this.active.delete(event.file.path);
        this.fileBytes.set(event.file.path, event.file.size);
        this.filesDone += 1;
        this.print(`fetched  ${event.file.path} (${formatBytes(event.file.size)})`);
        break;
      case 'file:retry':
        this.print(
          `retrying ${event.file.path}` +
            (event.delayMs > 0 ? ` in ${formatDuration(event.delayMs / 1000)}` : '') +
            ` (attempt ${event.attempt}/${event.attempts}): ${event.reason}`,
        );
        break;
    }
  };

  /** Removes the bar so the final summary starts on a clean line. */
  finish(): void {
    if (this.interactive && this.barShown) this.stream.write('\r\x1b[2K');
    this.barShown = false;
  }

  snapshot(): ProgressSnapshot {
    let doneBytes = 0;
    for (const bytes of this.fileBytes.values()) doneBytes += bytes;
    return {
      doneBytes,
      totalBytes: this.totalBytes,
      bytesPerSecond: this.rate(),
      filesDone: this.filesDone,
      fileCount: this.fileCount,
    };
  }

  private tick(): void {
    const now = this.now();
    this.samples.push({ time: now, received: this.received });
    while (this.samples.length > 2 && (this.samples[0]?.time ?? now) < now - RATE_WINDOW_MS)
      this.samples.shift();
    if (this.interactive) {
      if (now - this.lastDraw >= REDRAW_INTERVAL_MS) this.drawBar(now);
    } else if (now - this.lastLine >= this.lineIntervalMs) {
      this.lastLine = now;
      this.stream.write(`progress: ${formatProgressLine(this.snapshot(), { bar: false })}\n`);
    }
  }

  private rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined) return undefined;
    const seconds = (last.time - first.time) / 1000;
    return seconds < 0.5 ? undefined : (last.received - first.received) / seconds;
  }

  private drawBar(now: number): void {
    this.lastDraw = now;
    this.barShown = true;
    const total = formatProgressLine(this.snapshot(), { bar: true });
    // The files in flight, each with its own percent; the line is cut to the terminal's width so
    // it never wraps (a wrapped line cannot be redrawn in place).
    const files = [...this.active].map(
      ([path, { bytes, size }]) => `${path} ${size === 0 ? 100 : Math.floor((bytes / size) * 100)}%`,
    );
    const line = files.length === 0 ? total : `${total}  | ${files.join(', ')}`;
    const width = (this.stream as { columns?: number }).columns ?? 200;
    this.stream.write(`\r\x1b[2K${line.length < width ? line : `${line.slice(0, Math.max(0, width - 2))}…`}`);
  }

  /** A line above the bar (the bar is redrawn under it). */
  private print(line: string): void {
    if (this.interactive && this.barShown) this.stream.write('\r\x1b[2K');
    this.stream.write(`${line}\n`);
    if (this.interactive && this.fileCount > 0) this.drawBar(this.now());
  }
}
