import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSdbot } from '../helpers/cli.js';
import { tinySd, tinySdGolden } from '../helpers/tiny-sd.js';
import { useTemporaryDirectory } from '../helpers/temporary-directory.js';

const env = { SDBOT_THREADS: '1' };

describe.skipIf(!tinySd.available || !tinySdGolden.available)(
  `sdbot safety-check${tinySd.skipNote}${tinySdGolden.skipNote}`,
  () => {
    const red = join(tinySdGolden.path, 'probe-red.png');
    const grey = join(tinySdGolden.path, 'probe-grey.png');
    const scratch = useTemporaryDirectory('sdbot-safety-check-');

    it('flags the probes the reference flags, in one call, one JSON line per image', async () => {
      const expected = JSON.parse(
        await readFile(join(tinySdGolden.path, 'safety-probes.json'), 'utf8'),
      ) as Record<string, boolean>;
      expect(expected).toEqual({ red: true, grey: false });

      const run = await runSdbot(['safety-check', '--model', tinySd.path, '--json', red, grey], env);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const lines = run.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown);
      expect(lines).toEqual([
        { file: red, nsfw: true },
        { file: grey, nsfw: false },
      ]);
    });

    it('prints a readable line per image, and a flagged image does not change the exit code', async () => {
      const run = await runSdbot(['safety-check', '--model', tinySd.path, grey, red], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`${grey}: not flagged\n${red}: FLAGGED by the safety checker\n`);
    });

    it('needs --model', async () => {
      const run = await runSdbot(['safety-check', red], env);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('--model');
    });

    it('needs at least one image', async () => {
      const run = await runSdbot(['safety-check', '--model', tinySd.path], env);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('no images given');
    });

    it('names a file that is not an image, and one that does not exist', async () => {
      const notImage = join(scratch.path, 'notes.png');
      writeFileSync(notImage, 'not a png at all');
      const garbled = await runSdbot(['safety-check', '--model', tinySd.path, grey, notImage], env);
      expect(garbled.code).not.toBe(0);
      expect(garbled.stderr).toContain(`${notImage}: not a readable image`);
      expect(garbled.stdout).toBe('');

      const missing = join(scratch.path, 'missing.png');
      const absent = await runSdbot(['safety-check', '--model', tinySd.path, missing], env);
      expect(absent.code).not.toBe(0);
      expect(absent.stderr).toContain(missing);
    });

    it('says when the model has no safety checker', async () => {
      const index = JSON.parse(await readFile(join(tinySd.path, 'model_index.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      const directory = mkdtempSync(join(scratch.path, 'no-checker-'));
      writeFileSync(
        join(directory, 'model_index.json'),
        JSON.stringify({ ...index, safety_checker: [null, null] }),
      );
      const run = await runSdbot(['safety-check', '--model', directory, red], env);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('[MODEL_INVALID]');
      expect(run.stderr).toContain(`${directory} has no safety_checker`);
    });
  },
);
