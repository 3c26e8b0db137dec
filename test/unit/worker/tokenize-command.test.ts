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
    const ids = [START, 320, 3086, 539, 320, 11808, 6060, 1629, 5084, ...Array<number>(68).fill(END)];
    expect(output).toEqual({
      input_ids: ids,
      untruncated_length: 8,
      truncated: false,
      chunks: [{ input_ids: ids, weights: Array<number>(77).fill(1) }],
    });
  });

  it('joins several words into one prompt', async () => {
    const joined = await runSdbot(['tokenize', '--json', '--model', tinySd.path, 'a', 'painting']);
    const quoted = await runSdbot(['tokenize', '--json', '--model', tinySd.path, 'a painting']);
    expect(joined.stdout).toBe(quoted.stdout);
  });

  it('prints the ids and counts readably', async () => {
    const run = await runSdbot(['tokenize', '--model', tinySd.path, '--syntax', 'plain', 'a painting']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('77 ids (start + 2 prompt tokens + end + 73 padding)');
    expect(run.stdout).toContain(`${START} 320 3086 ${END} ${END}`);
    expect(run.stdout).toContain('prompt tokens: 2 (room for 75)');
    expect(run.stdout).toContain('not truncated');
  });

  it('says how many tokens a long prompt loses and which words they are', async () => {
    const prompt = `${Array.from({ length: 74 }, () => 'cat').join(' ')} red fox in snow`;
    const readable = await runSdbot(['tokenize', '--model', tinySd.path, '--syntax', 'plain', prompt]);
    expect(readable.code).toBe(0);
    expect(readable.stdout).toContain('prompt tokens: 78 (room for 75)');
    expect(readable.stdout).toContain(
      'truncated: the last 3 tokens are cut and the model never sees them: "fox in snow"',
    );
    const json = await runSdbot(['tokenize', '--model', tinySd.path, '--syntax', 'plain', '--json', prompt]);
    expect(JSON.parse(json.stdout)).toMatchObject({ untruncated_length: 78, truncated: true });
  });

  it('--syntax a1111 (the default) prints each chunk with its weights, as A1111 reads the prompt', async () => {
    const run = await runSdbot(['tokenize', '--model', tinySd.path, '--json', '(a:1.5) [painting]']);
    expect(run.code).toBe(0);
    const output = JSON.parse(run.stdout) as { chunks: { input_ids: number[]; weights: number[] }[] };
    expect(output.chunks).toEqual([
      {
        input_ids: [START, 320, 3086, ...Array<number>(74).fill(END)],
        weights: [1, 1.5, 1 / 1.1, ...Array<number>(74).fill(1)],
      },
    ]);
    const plain = await runSdbot([
      'tokenize',
      '--model',
      tinySd.path,
      '--json',
      '--syntax',
      'plain',
      '(a:1.5)',
    ]);
    const plainOutput = JSON.parse(plain.stdout) as { chunks: { input_ids: number[]; weights: number[] }[] };
    expect(plainOutput.chunks).toHaveLength(1);
    expect(plainOutput.chunks[0]?.weights).toEqual(Array<number>(77).fill(1));
    expect(plainOutput.chunks[0]?.input_ids.slice(0, 3)).toEqual([START, 263, 320]);
  });

  it('a long prompt becomes several chunks; past 3 chunks the rest is cut and counted', async () => {
    const long = Array.from({ length: 100 }, () => 'cat').join(' ');
    const json = await runSdbot(['tokenize', '--model', tinySd.path, '--json', long]);
    const output = JSON.parse(json.stdout) as {
      untruncated_length: number;
      truncated: boolean;
      chunks: { input_ids: number[] }[];
    };
    expect(output).toMatchObject({ untruncated_length: 100, truncated: false });
    expect(output.chunks).toHaveLength(2);
    expect(output.chunks.every((chunk) => chunk.input_ids.length === 77)).toBe(true);
    const tooLong = `${Array.from({ length: 236 }, () => 'cat').join(' ')} red fox in snow`;
    const readable = await runSdbot(['tokenize', '--model', tinySd.path, tooLong]);
    expect(readable.code).toBe(0);
    expect(readable.stdout).toContain('prompt tokens: 240 in 3 chunks (at most 3 of 75)');
    expect(readable.stdout).toContain(
      'truncated: the last 15 tokens are past chunk 3 and the model never sees them: "cat cat cat cat cat cat cat cat cat cat cat red fox in snow"',
    );
  });

  it('refuses an unknown syntax, naming the flag', async () => {
    const run = await runSdbot(['tokenize', '--model', tinySd.path, '--syntax', 'nai', 'a cat']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('--syntax');
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
