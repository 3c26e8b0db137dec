/**
 * `sdbot generate --syntax` end to end on tiny-sd: a 150-token weighted prompt read whole under
 * a1111 and cut at 77 tokens under plain, an empty prompt, the notice for unsupported constructs,
 * and a bad --syntax named.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSdbot } from '../helpers/cli.js';
import { tinySd } from '../helpers/tiny-sd.js';

const env = { SDBOT_THREADS: '1', LOG_LEVEL: 'warn' };
/** 150 CLIP tokens in 3 chunks, with every kind of weight and a BREAK. */
const LONG_WEIGHTED = [
  '(masterpiece:1.3), best quality, ((lighthouse)) on a cliff at dusk',
  ...Array.from({ length: 14 }, (_, index) => `[fog ${index}], (waves:0.8), oil painting ${index}`),
  'BREAK gulls over the sea',
].join(', ');

describe.skipIf(!tinySd.available)(`sdbot generate --syntax${tinySd.skipNote}`, () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'sdbot-syntax-'));
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  const generate = (prompt: string, ...flags: string[]) =>
    runSdbot(
      [
        'generate',
        ...['--model', tinySd.path, '--prompt', prompt],
        ...['--width', '64', '--height', '64', '--steps', '2', '--seed', '1', '--no-watermark'],
        ...flags,
      ],
      env,
    );

  it('reads a 150-token weighted prompt whole with a1111 (the default) and writes the image', async () => {
    const file = join(out, 'long.png');
    const run = await generate(LONG_WEIGHTED, '--json', '--out', file);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { syntax: string; truncatedTokens: number };
    expect(report).toMatchObject({ syntax: 'a1111', truncatedTokens: 0 });
    expect(existsSync(file)).toBe(true);
  });

  it('with --syntax plain cuts the same prompt at 77 tokens and says so', async () => {
    const run = await generate(LONG_WEIGHTED, '--syntax', 'plain', '--out', join(out, 'plain.png'));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^The model reads 77 tokens; the last \d+ of this prompt were ignored\.$/m);
  });

  it('an empty prompt generates unconditionally; unsupported constructs are named', async () => {
    const empty = await generate('', '--out', join(out, 'empty.png'));
    expect(empty.stderr).toBe('');
    expect(empty.code).toBe(0);
    const editing = await generate('a [cat:dog:0.5] <lora:detail:0.8>', '--out', join(out, 'edit.png'));
    expect(editing.code).toBe(0);
    expect(editing.stdout).toContain(
      'Not supported here, read as plain text: prompt editing [from:to:when], extra networks <lora:...>.',
    );
  });

  it('refuses an unknown syntax, naming the flag', async () => {
    const run = await generate('a cat', '--syntax', 'nai', '--out', join(out, 'x.png'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('--syntax: must be one of a1111, plain');
  });
});
