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
    let now = 0;
    const progress = new DownloadProgress({ stream: out.stream, interactive: true, now: () => now });
    const weights = file('unet/weights.pb', 1000);
    progress.handle({
      type: 'download:plan',
      repo: 'acme/sd',
      commit: 'a'.repeat(40),
      root: '',
      files: [weights],
    });
    for (let step = 1; step <= 10; step++) {
      now += 200;
      progress.handle({ type: 'file:progress', file: weights, bytes: step * 100, delta: 100 });
    }
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
    let now = 0;
    const progress = new DownloadProgress({
      stream: out.stream,
      interactive: false,
      lineIntervalMs: 1000,
      now: () => now,
    });
    const weights = file('unet/weights.pb', 4000);
    progress.handle({
      type: 'download:plan',
      repo: 'acme/sd',
      commit: 'b'.repeat(40),
      root: 'onnx/',
      files: [weights],
    });
    for (let step = 1; step <= 8; step++) {
      now += 250;
      progress.handle({ type: 'file:progress', file: weights, bytes: step * 500, delta: 500 });
    }
    const text = out.text();
    expect(text).not.toContain('\r');
    expect(text).toContain('(export in onnx/)');
    expect(text.match(/^progress: .*$/gm)).toEqual([
      'progress:  50% 1.95 KiB / 3.91 KiB, 1.95 KiB/s, ETA 1s, 0/1 files',
      'progress: 100% 3.91 KiB / 3.91 KiB, 1.95 KiB/s, ETA 0s, 0/1 files',
    ]);
  });
});
