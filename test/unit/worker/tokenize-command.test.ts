import { describe, expect, it } from 'vitest';
import { runSdbot } from '../../helpers/cli.js';
import { sharedFixture } from '../../helpers/shared-fixtures.js';

const START = 49406;
const END = 49407;
const tinySd = sharedFixture('tiny-sd');

describe.skipIf(!tinySd.available)(`sdbot tokenize${tinySd.skipNote}`, () => {
  it('--json prints one line with the 77 ids, the untruncated length and the truncation flag', async () => {
    const run = await runSdbot([
      'tokenize',
      '--model',
      tinySd.path,
      '--json',
      'a painting of a virus monster playing guitar',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
    const output = JSON.parse(run.stdout) as {
      input_ids: number[];
      untruncated_length: number;
      truncated: boolean;
    };
    expect(output).toEqual({
      input_ids: [START, 320, 3086, 539, 320, 11808, 6060, 1629, 5084, ...Array<number>(68).fill(END)],
      untruncated_length: 8,
      truncated: false,
    });
  });

  it('joins several words into one prompt', async () => {
    const joined = await runSdbot(['tokenize', '--json', '--model', tinySd.path, 'a', 'painting']);
    const quoted = await runSdbot(['tokenize', '--json', '--model', tinySd.path, 'a painting']);
    expect(joined.stdout).toBe(quoted.stdout);
  });

  it('prints the ids and counts readably', async () => {
    const run = await runSdbot(['tokenize', '--model', tinySd.path, 'a painting']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('77 ids (start + 2 prompt tokens + end + 73 padding)');
    expect(run.stdout).toContain(`${START} 320 3086 ${END} ${END}`);
    expect(run.stdout).toContain('prompt tokens: 2 (room for 75)');
    expect(run.stdout).toContain('not truncated');
  });

  it('says how many tokens a long prompt loses and which words they are', async () => {
    const prompt = `${Array.from({ length: 74 }, () => 'cat').join(' ')} red fox in snow`;
    const readable = await runSdbot(['tokenize', '--model', tinySd.path, prompt]);
    expect(readable.code).toBe(0);
    expect(readable.stdout).toContain('prompt tokens: 78 (room for 75)');
    expect(readable.stdout).toContain(
      'truncated: the last 3 tokens are cut and the model never sees them: "fox in snow"',
    );
    const json = await runSdbot(['tokenize', '--model', tinySd.path, '--json', prompt]);
    expect(JSON.parse(json.stdout)).toMatchObject({ untruncated_length: 78, truncated: true });
  });

  it('requires --model and names it', async () => {
    const run = await runSdbot(['tokenize', 'a cat']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--model is required');
  });

  it('requires the text', async () => {
    const run = await runSdbot(['tokenize', '--model', tinySd.path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the text to tokenize is required');
  });

  it('fails with MODEL_INVALID naming a directory without a tokenizer', async () => {
    const run = await runSdbot(['tokenize', '--model', `${tinySd.path}/unet`, 'a cat']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /error \[MODEL_INVALID\]: tokenizer directory .*unet\/tokenizer does not exist/,
    );
  });
});
