import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ModelFile } from '../../../worker/src/models/model-file.js';
import { DownloadProgress, formatProgressLine } from '../../../worker/src/models/progress.js';
import { formatBytes, formatDuration } from '../../../worker/src/models/units.js';

function file(path: string, size: number): ModelFile {
  return { path, repoPath: path, size, digest: { algorithm: 'sha256', value: '0'.repeat(64) } };
}

function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream: PassThrough & { isTTY?: boolean } = new PassThrough();
  stream.isTTY = isTTY;
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

/** Announces the download of `weights` alone from acme/sd at `commit`, exported under `root`. */
function plan(progress: DownloadProgress, weights: ModelFile, commit: string, root: string): void {
  progress.handle({ type: 'download:plan', repo: 'acme/sd', commit, root, files: [weights] });
}

/** Reports `weights` arriving in `steps` chunks of `chunk` bytes, `stepMs` apart on `clock`. */
function arrive(
  progress: DownloadProgress,
  clock: { now: number },
  weights: ModelFile,
  [steps, stepMs, chunk]: [number, number, number],
): void {
  for (let step = 1; step <= steps; step++) {
    clock.now += stepMs;
    progress.handle({ type: 'file:progress', file: weights, bytes: step * chunk, delta: chunk });
  }
}

describe('download progress', () => {
  it('formats sizes and durations for people', () => {
    expect(formatBytes(532)).toBe('532 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(3.44 * 1024 ** 3)).toBe('3.44 GiB');
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(187)).toBe('3m07s');
    expect(formatDuration(3720)).toBe('1h02m');
    expect(formatDuration(undefined)).toBe('--');
  });

  it('shows done and total bytes, rate, time left and files', () => {
    const line = formatProgressLine(
      {
        doneBytes: 512 * 1024 ** 2,
        totalBytes: 2048 * 1024 ** 2,
        bytesPerSecond: 64 * 1024 ** 2,
        filesDone: 3,
        fileCount: 13,
      },
      { bar: true },
    );
    expect(line).toBe(' 25% [######..................] 512 MiB / 2.00 GiB  64.0 MiB/s  ETA 24s  3/13 files');
  });

  it('redraws one line in place on a terminal', () => {
    const out = capture(true);
    const clock = { now: 0 };
    const progress = new DownloadProgress({ stream: out.stream, interactive: true, now: () => clock.now });
    const weights = file('unet/weights.pb', 1000);
    plan(progress, weights, 'a'.repeat(40), '');
    arrive(progress, clock, weights, [10, 200, 100]);
    progress.handle({ type: 'file:done', file: weights });
    progress.finish();
    const text = out.text();
    expect(text).toContain('acme/sd at aaaaaaaaaaaa: 1 files, 1000 B\n');
    expect(text).toContain(
      '\r\x1b[2K 50% [############............] 500 B / 1000 B  500 B/s  ETA 1s  0/1 files',
    );
    expect(text).toContain('fetched  unet/weights.pb (1000 B)\n');
    // Per file as well as in total.
    expect(text).toContain('0/1 files  | unet/weights.pb 50%');
    expect(text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('prints plain periodic lines when stderr is not a terminal', () => {
    const out = capture(false);
    const clock = { now: 0 };
    const progress = new DownloadProgress({
      stream: out.stream,
      interactive: false,
      lineIntervalMs: 1000,
      now: () => clock.now,
    });
    const weights = file('unet/weights.pb', 4000);
    plan(progress, weights, 'b'.repeat(40), 'onnx/');
    arrive(progress, clock, weights, [8, 250, 500]);
    const text = out.text();
    expect(text).not.toContain('\r');
    expect(text).toContain('(export in onnx/)');
    expect(text.match(/^progress: .*$/gm)).toEqual([
      'progress:  50% 1.95 KiB / 3.91 KiB, 1.95 KiB/s, ETA 1s, 0/1 files',
      'progress: 100% 3.91 KiB / 3.91 KiB, 1.95 KiB/s, ETA 0s, 0/1 files',
    ]);
  });
});
