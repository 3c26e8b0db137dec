/**
 * `sdbot generate` refuses a bad request before it loads the model: loading takes seconds to
 * minutes, and a prompt far over the limit once crashed onnxruntime instead of being refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSdbot } from '../helpers/cli.js';
import { tinySd } from '../helpers/tiny-sd.js';

const scratch = mkdtempSync(join(tmpdir(), 'sdbot-generate-'));
/** Not a model directory: a request that reached the model loader would fail on it instead. */
const missingModel = join(scratch, 'no-model-here');
const env = { LOG_LEVEL: 'silent' };

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('sdbot generate: validation before loading', () => {
  const longPrompt = 'a lighthouse at dusk, '.repeat(1400);

  it.each([tinySd.path, missingModel])('a 30 KB prompt answers INVALID_INPUT (model %s)', async (model) => {
    expect(longPrompt.length).toBeGreaterThan(30_000);
    const run = await runSdbot(
      ['generate', '--model', model, '--prompt', longPrompt, '--out', join(scratch, 'x.png')],
      env,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('INVALID_INPUT');
    expect(run.stderr).toContain('prompt:');
  });

  it('a size the UNet cannot run is refused naming the rule, before loading', async () => {
    const run = await runSdbot(
      [
        'generate',
        '--model',
        missingModel,
        '--prompt',
        'cat',
        '--width',
        '520',
        '--out',
        join(scratch, 'x.png'),
      ],
      env,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('--width: must be a multiple of 64 in 64..2048 (got 520)');
  });

  it('--out in a missing directory fails before generation', async () => {
    const out = join(scratch, 'missing', 'x.png');
    const run = await runSdbot(['generate', '--model', missingModel, '--prompt', 'cat', '--out', out], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('INVALID_INPUT');
    expect(run.stderr).toContain(`--out: directory ${join(scratch, 'missing')} does not exist`);
  });

  it('--out under a file (not a directory) fails before generation', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    const run = await runSdbot(
      ['generate', '--model', missingModel, '--prompt', 'cat', '--out', join(file, 'x.png')],
      env,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`--out: ${file} is not a directory`);
  });
});
