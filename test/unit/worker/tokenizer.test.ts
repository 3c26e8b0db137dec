import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SdbotError } from '@sdbot/shared';
import { ClipTokenizer } from '../../../worker/src/diffusion/tokenizer.js';
import { sharedFixture } from '../../helpers/shared-fixtures.js';
import { useTemporaryDirectory } from '../../helpers/temporary-directory.js';

const START = 49406;
const END = 49407;

interface Example {
  text: string;
  input_ids: number[];
  untruncated_length: number;
}

const clipData = sharedFixture('clip-tokenizer');
const tinySdTokenizer = sharedFixture('tiny-sd/tokenizer');

async function expectModelError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(SdbotError);
  expect((error as SdbotError).code).toBe('MODEL_INVALID');
  expect((error as SdbotError).message).toMatch(message);
}

describe.each([
  ['clip-tokenizer (vocab and merges only)', clipData],
  ['tiny-sd/tokenizer (full SD 1.x export)', tinySdTokenizer],
])('reference examples with %s', (_name, fixture) => {
  const examples = clipData.available
    ? (JSON.parse(readFileSync(join(clipData.path, 'examples.json'), 'utf8')) as Example[])
    : [];

  describe.skipIf(!fixture.available || !clipData.available)(`examples.json${fixture.skipNote}`, () => {
    let tokenizer: ClipTokenizer;
    beforeAll(async () => {
      tokenizer = await ClipTokenizer.fromDirectory(fixture.path);
    });

    it.each(examples.map((example) => [JSON.stringify(example.text), example] as const))(
      '%s gives the reference ids',
      (_text, example) => {
        const result = tokenizer.encode(example.text);
        expect(Array.from(result.inputIds)).toEqual(example.input_ids);
        expect(result.untruncatedLength).toBe(example.untruncated_length);
        expect(result.truncated).toBe(false);
        expect(result.droppedTokens).toBe(0);
      },
    );
  });
});

describe.skipIf(!tinySdTokenizer.available)(`CLIP tokenizer behaviour${tinySdTokenizer.skipNote}`, () => {
  let tokenizer: ClipTokenizer;
  let vocabulary: Record<string, number>;

  beforeAll(async () => {
    tokenizer = await ClipTokenizer.fromDirectory(tinySdTokenizer.path);
    vocabulary = JSON.parse(readFileSync(join(tinySdTokenizer.path, 'vocab.json'), 'utf8')) as Record<
      string,
      number
    >;
  });

  const ids = (text: string): number[] => tokenizer.tokenIds(text);
  const vocabId = (token: string): number => {
    const id = vocabulary[token];
    if (id === undefined) throw new Error(`${token} is not in the vocabulary`);
    return id;
  };

  it('frames the prompt with start and end and pads with end (SD 1.x) to 77 ids', () => {
    const result = tokenizer.encode('a cat');
    expect(tokenizer.maxLength).toBe(77);
    expect(result.inputIds).toBeInstanceOf(Int32Array);
    expect(Array.from(result.inputIds)).toEqual([
      START,
      vocabId('a</w>'),
      vocabId('cat</w>'),
      ...Array<number>(74).fill(END),
    ]);
  });

  describe('unicode', () => {
    it('accented words are whole tokens, whatever the case or normalisation form', () => {
      // é is UTF-8 C3 A9, which the byte table shows as "Ã©".
      expect(ids('café')).toEqual([vocabId('cafÃ©</w>')]);
      expect(ids('CAFÉ')).toEqual(ids('café'));
      expect(ids('cafe\u0301')).toEqual(ids('café'));
    });

    it('CJK text and emoji survive as byte-level tokens and decode back', () => {
      for (const text of ['東京の夜景', '你好世界', 'a cat 🐱 with 👍🏽 and ❤️']) {
        const tokens = ids(text);
        expect(tokens.length).toBeGreaterThan(0);
        expect(tokens).not.toContain(END);
        expect(tokenizer.decode(tokens)).toBe(text);
      }
    });

    it('a letter run of one script is one pre-token; digits are split one by one', () => {
      expect(tokenizer.decode(ids('1024px'))).toBe('1 0 2 4 px');
      expect(ids('1024')).toEqual(['1', '0', '2', '4'].map((digit) => vocabId(`${digit}</w>`)));
    });
  });

  describe('whitespace', () => {
    it('tabs, newlines, repeated and unicode spaces all count as one space', () => {
      const plain = ids('a red fox in the snow');
      expect(ids('a\tred\nfox\r\n\r\nin  the   snow')).toEqual(plain);
      expect(ids('a\u00a0red\u3000fox\u2003in the snow')).toEqual(plain);
    });

    it('edges are stripped like Python strips them: separators go, a byte-order mark stays', () => {
      expect(ids('\u001ca red fox\u001f')).toEqual(ids('a red fox'));
      expect(ids('\ufeffa red fox')).not.toEqual(ids('a red fox'));
    });

    it('leading and trailing whitespace is ignored; blank prompts are empty', () => {
      expect(ids('  \n a red fox \t ')).toEqual(ids('a red fox'));
      const blank = tokenizer.encode(' \t\n ');
      expect(blank.untruncatedLength).toBe(0);
      expect(Array.from(blank.inputIds.subarray(0, 3))).toEqual([START, END, END]);
    });
  });

  describe('punctuation', () => {
    it('splits punctuation runs from words and keeps English contractions together', () => {
      expect(tokenizer.decode(ids('hello, world!!!'))).toBe('hello , world !!!');
      expect(tokenizer.decode(ids("it's they're we'll"))).toBe("it 's they 're we 'll");
      expect(tokenizer.decode(ids('(masterpiece:1.2), [blue]'))).toBe('( masterpiece : 1 . 2 ), [ blue ]');
    });

    it('prompt weights syntax is plain text to CLIP', () => {
      expect(ids('(red:1.5)')).toHaveLength(7);
    });
  });

  describe('HTML entities (decoded twice, like the reference)', () => {
    it.each([
      ['&amp;', '&'],
      ['&amp;amp;', '&'],
      ['&lt;3 &gt;', '<3 >'],
      ['&quot;hi&quot;', '"hi"'],
      ['cat&#39;s', "cat's"],
      ['&#65;&#x42;&#X43;', 'abc'],
      ['&amp', '&'],
      ['&apos;', "'"],
      ['&nbsp;x', 'x'],
    ])('%s reads as %s', (escaped, plain) => {
      expect(ids(escaped)).toEqual(ids(plain));
    });

    it.each([
      ['&unknown;', '& unknown ;'],
      ['&apos', '& apos'],
      ['fish & chips', 'fish & chips'],
      ['a&b', 'a & b'],
    ])('%s stays literal', (text, pieces) => {
      expect(tokenizer.decode(ids(text))).toBe(pieces);
    });
  });

  describe('long prompts', () => {
    const words = (count: number): string => Array.from({ length: count }, () => 'cat').join(' ');

    it('75 prompt tokens fit exactly; the end token is the last id', () => {
      const result = tokenizer.encode(words(75));
      expect(result).toMatchObject({ untruncatedLength: 75, truncated: false, droppedTokens: 0 });
      expect(result.inputIds[76]).toBe(END);
      expect(result.inputIds[75]).toBe(vocabId('cat</w>'));
    });

    it('a 76th token is cut and counted', () => {
      const result = tokenizer.encode(words(76));
      expect(result).toMatchObject({ untruncatedLength: 76, truncated: true, droppedTokens: 1 });
      expect(result.inputIds).toHaveLength(77);
      expect(result.inputIds[76]).toBe(END);
    });

    it('a long prompt keeps its first 75 tokens and reports what was dropped', () => {
      const text = `${words(70)} a red fox in the snow at dawn`;
      const result = tokenizer.encode(text);
      expect(result).toMatchObject({ untruncatedLength: 78, truncated: true, droppedTokens: 3 });
      expect(tokenizer.decode(result.inputIds.subarray(71, 76))).toBe('a red fox in the');
      expect(tokenizer.decode(ids(text).slice(75))).toBe('snow at dawn');
    });
  });

  it('typed special tokens map to their ids, as in the reference', () => {
    expect(ids('a <|endoftext|> b')).toEqual([vocabId('a</w>'), END, vocabId('b</w>')]);
  });
});

describe.skipIf(!tinySdTokenizer.available)(`tokenizer directory variants${tinySdTokenizer.skipNote}`, () => {
  const directory = useTemporaryDirectory('sdbot-tokenizer-');

  /** A tokenizer directory with the real vocabulary and the given config files. */
  function makeTokenizerDir(name: string, files: Record<string, string> = {}): string {
    const dir = join(directory.path, name);
    mkdirSync(dir);
    for (const file of ['vocab.json', 'merges.txt'])
      copyFileSync(join(tinySdTokenizer.path, file), join(dir, file));
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  }

  it('SD 2.x pads with "!" (id 0) when the config says so', async () => {
    const dir = makeTokenizerDir('sd2', {
      'tokenizer_config.json': JSON.stringify({ model_max_length: 77, pad_token: '!' }),
    });
    const sd1 = await ClipTokenizer.fromDirectory(tinySdTokenizer.path);
    const result = (await ClipTokenizer.fromDirectory(dir)).encode('a cat');
    expect(Array.from(result.inputIds.subarray(0, 5))).toEqual([START, ...sd1.tokenIds('a cat'), END, 0]);
    expect(Array.from(result.inputIds.subarray(4)).every((id) => id === 0)).toBe(true);
  });

  it('reads special tokens written as objects and lets special_tokens_map.json win', async () => {
    const dir = makeTokenizerDir('sd2-objects', {
      'tokenizer_config.json': JSON.stringify({ pad_token: { content: '<|endoftext|>', lstrip: false } }),
      'special_tokens_map.json': JSON.stringify({ pad_token: { content: '!', normalized: false } }),
    });
    expect((await ClipTokenizer.fromDirectory(dir)).padId).toBe(0);
  });

  it('uses model_max_length from the config', async () => {
    const dir = makeTokenizerDir('short', {
      'tokenizer_config.json': JSON.stringify({ model_max_length: 8 }),
    });
    const result = (await ClipTokenizer.fromDirectory(dir)).encode('a b c d e f g h');
    expect(result.inputIds).toHaveLength(8);
    expect(result).toMatchObject({ untruncatedLength: 8, truncated: true, droppedTokens: 2 });
    expect(result.inputIds[7]).toBe(END);
  });

  it('names a missing directory', async () => {
    await expectModelError(
      ClipTokenizer.fromDirectory(join(directory.path, 'absent')),
      /absent does not exist/,
    );
  });

  it('names a missing vocab.json or merges.txt', async () => {
    const noVocab = makeTokenizerDir('no-vocab');
    rmSync(join(noVocab, 'vocab.json'));
    await expectModelError(ClipTokenizer.fromDirectory(noVocab), /no-vocab\/vocab\.json: not found/);
    const noMerges = makeTokenizerDir('no-merges');
    rmSync(join(noMerges, 'merges.txt'));
    await expectModelError(ClipTokenizer.fromDirectory(noMerges), /no-merges\/merges\.txt: not found/);
  });

  it('names a corrupt vocab.json', async () => {
    const dir = makeTokenizerDir('corrupt');
    writeFileSync(join(dir, 'vocab.json'), '{"a": 1, "b":');
    await expectModelError(ClipTokenizer.fromDirectory(dir), /corrupt\/vocab\.json: is not valid JSON/);
    writeFileSync(join(dir, 'vocab.json'), '["a", "b"]');
    await expectModelError(
      ClipTokenizer.fromDirectory(dir),
      /vocab\.json: must map each token to its integer id/,
    );
    writeFileSync(join(dir, 'vocab.json'), '{"a": "one"}');
    await expectModelError(ClipTokenizer.fromDirectory(dir), /vocab\.json: token "a" has id "one"/);
  });

  it('names a malformed merges.txt line', async () => {
    const dir = makeTokenizerDir('bad-merges');
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\ni n\nthree parts here\n');
    await expectModelError(
      ClipTokenizer.fromDirectory(dir),
      /merges\.txt: line 3 is not a merge of two symbols/,
    );
  });

  it('names a corrupt config and a pad token missing from the vocabulary', async () => {
    const corrupt = makeTokenizerDir('bad-config', { 'tokenizer_config.json': '{nope' });
    await expectModelError(ClipTokenizer.fromDirectory(corrupt), /tokenizer_config\.json: is not valid JSON/);
    const unknownPad = makeTokenizerDir('bad-pad', { 'special_tokens_map.json': '{"pad_token": "<pad>"}' });
    await expectModelError(
      ClipTokenizer.fromDirectory(unknownPad),
      /special_tokens_map\.json: pad_token "<pad>" is not in .*vocab\.json/,
    );
    const badLength = makeTokenizerDir('bad-length', {
      'tokenizer_config.json': '{"model_max_length": 1e30}',
    });
    await expectModelError(
      ClipTokenizer.fromDirectory(badLength),
      /model_max_length must be an integer in 3\.\.1024/,
    );
  });
});
