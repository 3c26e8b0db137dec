import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readParameters } from '../../worker/src/provenance.js';
import { detectWatermark } from '../../worker/src/watermark/index.js';
import { runSdbot } from '../helpers/cli.js';
import { pixelDiff, readRgb } from '../helpers/images.js';
import { useTemporaryDirectory } from '../helpers/temporary-directory.js';
import { tinySd, tinySdGolden } from '../helpers/tiny-sd.js';

const env = { SDBOT_THREADS: '1', LOG_LEVEL: 'warn' };

interface JsonReport {
  model: { name: string; hash: string; safetyChecker: boolean };
  seeds: number[];
  images: {
    file: string;
    seed: number;
    nsfw: boolean;
    watermarked: boolean;
    width: number;
    height: number;
  }[];
  truncatedTokens: number;
  timings: { stages: Record<string, number>; unetStepMs: number[]; runtimeMs: number; totalMs: number };
  unetCalls: number;
  unetRowsPerRun: number;
}

describe.skipIf(!tinySd.available)(`sdbot generate${tinySd.skipNote}`, () => {
  const out = useTemporaryDirectory('sdbot-generate-');

  const generate = (...flags: string[]) =>
    runSdbot(['generate', '--model', tinySd.path, '--prompt', 'a photo of a cat', ...flags], env);
  const small = ['--width', '64', '--height', '64'];

  it.skipIf(!tinySdGolden.available)('writes the reference image as a PNG with its parameters', async () => {
    const file = join(out.path, 'cat.png');
    const run = await generate(
      ...small,
      '--seed',
      '42',
      '--steps',
      '10',
      '--scheduler',
      'pndm',
      '--out',
      file,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(
      `wrote ${file} (64x64, seed 42) (not watermarked: image is 64x64: smaller than 256x256 pixels)`,
    );
    expect(lines[1]).toMatch(/^done in \d+\.\d\d s$/);
    const written = await readRgb(file);
    const golden = await readRgb(join(tinySdGolden.path, 'cat-pndm-0.png'));
    expect(pixelDiff(written.pixels, golden.pixels).max).toBeLessThanOrEqual(2);
    expect(readParameters(readFileSync(file))).toMatch(
      /^a photo of a cat\nSteps: 10, Sampler: PLMS, CFG scale: 7\.5, Seed: 42, Size: 64x64, Model hash: [0-9a-f]{16}, Model: tiny-sd$/,
    );
  });

  it('SDBOT_UNET_MAX_ROWS sets the rows of a UNet run, and a bad value is refused naming it', async () => {
    const args = ['generate', '--model', tinySd.path, '--prompt', 'a cat', ...small, '--steps', '2'];
    const flags = ['--count', '2', '--no-watermark', '--json', '--out', join(out.path, 'rows.png')];
    const two = await runSdbot([...args, ...flags], { ...env, SDBOT_UNET_MAX_ROWS: '2' });
    expect(two.code).toBe(0);
    expect((JSON.parse(two.stdout) as JsonReport).unetRowsPerRun).toBe(2);
    const bad = await runSdbot([...args, ...flags], { ...env, SDBOT_UNET_MAX_ROWS: 'two' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/SDBOT_UNET_MAX_ROWS/);
  });

  it('--json reports seeds, files, flags and timings; several images get numbered files', async () => {
    const file = join(out.path, 'batch.png');
    const run = await generate(
      ...small,
      ...['--seed', '5', '--steps', '3', '--count', '2', '--guidance', '1', '--no-watermark', '--json'],
      ...['--out', file],
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.seeds).toEqual([5, 6]);
    expect(report.images).toEqual([
      {
        file: join(out.path, 'batch-0.png'),
        seed: 5,
        nsfw: false,
        watermarked: false,
        width: 64,
        height: 64,
      },
      {
        file: join(out.path, 'batch-1.png'),
        seed: 6,
        nsfw: false,
        watermarked: false,
        width: 64,
        height: 64,
      },
    ]);
    expect(report.images.every((image) => existsSync(image.file))).toBe(true);
    expect(report.model).toMatchObject({ name: 'tiny-sd', safetyChecker: true });
    expect(report.model.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(report.unetCalls).toBe(4); // PNDM: steps + 1
    // Two images without guidance: 2 rows, a run each on the CPU.
    expect(report.unetRowsPerRun).toBe(1);
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

  it('watermarks images of at least 256x256 so the reference decoder reads the payload', async () => {
    const file = join(out.path, 'large.png');
    const run = await generate(
      ...['--width', '256', '--height', '256', '--steps', '2', '--guidance', '1', '--seed', '3'],
      ...['--json', '--out', file],
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.images).toMatchObject([{ file, watermarked: true, nsfw: false }]);
    expect(report.timings.stages.watermark).toBeGreaterThan(0);
    const { pixels, width, height } = await readRgb(file);
    expect(detectWatermark(pixels, width, height)).toMatchObject({ match: true, text: 'StableDiffusionV1' });
  });

  it('picks and prints a random seed when none is given', async () => {
    const run = await generate(
      ...small,
      '--steps',
      '1',
      '--no-safety',
      '--out',
      join(out.path, 'random.png'),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^wrote \S+ \(64x64, seed \d+\)/);
  });

  it('rejects bad flags with the field rules of a job', async () => {
    const steps = await generate(...small, '--steps', '0', '--out', join(out.path, 'x.png'));
    expect(steps.code).toBe(2);
    expect(steps.stderr).toBe(
      'sdbot: error [INVALID_INPUT]: --steps: must be an integer in 1..150 (got 0)\n',
    );
    const scheduler = await generate(...small, '--scheduler', 'fast', '--out', join(out.path, 'x.png'));
    expect(scheduler.code).toBe(2);
    expect(scheduler.stderr).toContain('--scheduler: must be one of pndm, ddim,');
    const jpeg = await generate(...small, '--out', join(out.path, 'x.jpg'));
    expect(jpeg.stderr).toContain('--out must name a .png file');
    const model = await runSdbot(
      ['generate', '--model', join(out.path, 'missing'), '--prompt', 'x', '--out', join(out.path, 'x.png')],
      env,
    );
    expect(model.code).toBe(1);
    expect(model.stderr).toBe(
      `sdbot: error [MODEL_INVALID]: ${join(out.path, 'missing')} is not a model directory\n`,
    );
  });
});
