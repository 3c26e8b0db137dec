import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSdbot } from '../helpers/cli.js';
import { pixelDiff, readRgb } from '../helpers/images.js';
import { tinySd, tinySdGolden } from '../helpers/tiny-sd.js';

const env = { SDBOT_THREADS: '1', LOG_LEVEL: 'warn' };

describe.skipIf(!tinySd.available)(`sdbot generate${tinySd.skipNote}`, () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'sdbot-generate-'));
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  const base = [
    'generate',
    '--model',
    tinySd.path,
    '--prompt',
    'a photo of a cat',
    '--width',
    '64',
    '--height',
    '64',
  ];

  it.skipIf(!tinySdGolden.available)('writes the reference image as a PNG', async () => {
    const file = join(out, 'cat.png');
    const run = await runSdbot(
      [...base, '--seed', '42', '--steps', '10', '--scheduler', 'pndm', '--out', file],
      env,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^wrote ${file} \\(64x64, seed 42\\)\\ndone in \\d+\\.\\d\\d s\\n$`),
    );
    const written = await readRgb(file);
    const golden = await readRgb(join(tinySdGolden.path, 'cat-pndm-0.png'));
    expect(pixelDiff(written.pixels, golden.pixels).max).toBeLessThanOrEqual(2);
  });

  it('--json reports seeds, files, nsfw flags and timings; several images get numbered files', async () => {
    const file = join(out, 'batch.png');
    const run = await runSdbot(
      [
        ...base,
        '--seed',
        '5',
        '--steps',
        '3',
        '--count',
        '2',
        '--guidance',
        '1',
        '--no-watermark',
        '--json',
        '--out',
        file,
      ],
      env,
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      model: { name: string; hash: string; safetyChecker: boolean };
      seeds: number[];
      images: { file: string; seed: number; nsfw: boolean; width: number; height: number }[];
      truncatedTokens: number;
      timings: { stages: Record<string, number>; unetStepMs: number[]; runtimeMs: number; totalMs: number };
      unetCalls: number;
    };
    expect(report.seeds).toEqual([5, 6]);
    expect(report.images).toEqual([
      { file: join(out, 'batch-0.png'), seed: 5, nsfw: false, width: 64, height: 64 },
      { file: join(out, 'batch-1.png'), seed: 6, nsfw: false, width: 64, height: 64 },
    ]);
    expect(report.images.every((image) => existsSync(image.file))).toBe(true);
    expect(report.model).toMatchObject({ name: 'tiny-sd', safetyChecker: true });
    expect(report.model.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(report.unetCalls).toBe(4); // PNDM: steps + 1
    expect(report.timings.unetStepMs).toHaveLength(4);
    expect(Object.keys(report.timings.stages)).toEqual(
      expect.arrayContaining([
        'tokenize',
        'textEncoder',
        'unet',
        'scheduler',
        'vaeDecoder',
        'safety',
        'encode',
      ]),
    );
    expect(report.timings.runtimeMs).toBeLessThanOrEqual(report.timings.totalMs);
  });

  it('picks and prints a random seed when none is given', async () => {
    const run = await runSdbot(
      [...base, '--steps', '1', '--no-safety', '--out', join(out, 'random.png')],
      env,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\(64x64, seed \d+\)/);
  });

  it('rejects bad flags with the field rules of a job', async () => {
    const steps = await runSdbot([...base, '--steps', '0', '--out', join(out, 'x.png')], env);
    expect(steps.code).toBe(2);
    expect(steps.stderr).toBe(
      'sdbot: error [INVALID_INPUT]: --steps: must be an integer in 1..150 (got 0)\n',
    );
    const scheduler = await runSdbot([...base, '--scheduler', 'fast', '--out', join(out, 'x.png')], env);
    expect(scheduler.code).toBe(2);
    expect(scheduler.stderr).toContain('--scheduler: must be one of pndm, ddim,');
    const jpeg = await runSdbot([...base, '--out', join(out, 'x.jpg')], env);
    expect(jpeg.stderr).toContain('--out must name a .png file');
    const model = await runSdbot(
      [...base, '--model', join(out, 'missing'), '--out', join(out, 'x.png')],
      env,
    );
    expect(model.code).toBe(1);
    expect(model.stderr).toBe(
      `sdbot: error [MODEL_INVALID]: ${join(out, 'missing')} is not a model directory\n`,
    );
  });
});
