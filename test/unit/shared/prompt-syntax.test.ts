/**
 * The prompt syntax on the wire (job, result, guild settings) and the notices the bot and the CLI
 * show: what was cut, and which A1111 constructs sdbot reads as plain text.
 */
import {
  guildSettingsSchema,
  jobResultSchema,
  jobSchema,
  promptCutNotice,
  unsupportedPromptConstructs,
  unsupportedPromptNotice,
  validate,
  ValidationError,
} from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { exampleJob, exampleResult, exampleSettings } from '../../helpers/messages.js';

function fieldsOf(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((issue) => `${issue.field}: ${issue.message}`);
  }
  throw new Error('accepted');
}

describe('prompt syntax on the wire', () => {
  it('a job carries the raw prompt and a1111 or plain; without the field it was plain', () => {
    const job = validate(jobSchema, exampleJob({ prompt: '(masterpiece:1.2), [blurry]', syntax: 'a1111' }));
    expect(job).toMatchObject({ prompt: '(masterpiece:1.2), [blurry]', syntax: 'a1111' });
    expect(validate(jobSchema, exampleJob())).not.toHaveProperty('syntax');
    expect(fieldsOf(() => validate(jobSchema, exampleJob({ syntax: 'nai' as 'plain' })))).toEqual([
      'syntax: must be one of a1111, plain (got "nai")',
    ]);
  });

  it('an empty prompt is a valid job (unconditional generation)', () => {
    expect(validate(jobSchema, exampleJob({ prompt: '' }))).toMatchObject({ prompt: '' });
  });

  it('a result may say how much of each prompt was cut and under which chunk limit', () => {
    const result = validate(
      jobResultSchema,
      exampleResult({ truncatedTokens: 9, negativeTruncatedTokens: 4, promptChunkLimit: 3 }),
    );
    expect(result).toMatchObject({ truncatedTokens: 9, negativeTruncatedTokens: 4, promptChunkLimit: 3 });
    expect(fieldsOf(() => validate(jobResultSchema, exampleResult({ promptChunkLimit: 4 })))).toEqual([
      'promptChunkLimit: must be an integer in 1..3 (got 4)',
    ]);
  });

  it('a guild may set its prompt syntax', () => {
    expect(validate(guildSettingsSchema, exampleSettings({ promptSyntax: 'plain' })).promptSyntax).toBe(
      'plain',
    );
    expect(validate(guildSettingsSchema, exampleSettings()).promptSyntax).toBeUndefined();
  });
});

describe('A1111 constructs sdbot leaves as text', () => {
  it.each<[string, string[]]>([
    ['a [cat:dog:0.5] in snow', ['prompt editing [from:to:when]']],
    ['a [dog:10] and [cat::0.25]', ['prompt editing [from:to:when]']],
    // A1111 reads a number after the colon in square brackets as a step, not a weight.
    ['[word:1.5]', ['prompt editing [from:to:when]']],
    ['a [[cat]:dog:3]', ['prompt editing [from:to:when]']],
    ['a [cat|dog|fox]', ['alternation [a|b]']],
    ['<lora:add_detail:0.8> a cat', ['extra networks <lora:...>']],
    ['a cat AND a dog', ['AND']],
    [
      '[cat:dog:0.5], [a|b], <hypernet:x:1>',
      ['prompt editing [from:to:when]', 'alternation [a|b]', 'extra networks <lora:...>'],
    ],
  ])('%j', (prompt, expected) => {
    expect(unsupportedPromptConstructs(prompt)).toEqual(expected);
  });

  it.each([
    '(masterpiece:1.2), best quality, [blurry], ((sky))',
    'a \\[cat:dog:0.5\\] in brackets',
    'cats and dogs',
    'a BREAK b',
  ])('weights, BREAK, escapes and plain words are not flagged: %j', (prompt) => {
    expect(unsupportedPromptConstructs(prompt)).toEqual([]);
  });

  it('says so only under the a1111 syntax', () => {
    expect(unsupportedPromptNotice('a [cat|dog]', 'a1111')).toBe(
      'Not supported here, read as plain text: alternation [a|b].',
    );
    expect(unsupportedPromptNotice('a [cat|dog]', 'plain')).toBeUndefined();
    expect(unsupportedPromptNotice('a cat', 'a1111')).toBeUndefined();
  });
});

describe('cut notices', () => {
  it('name the window of each syntax', () => {
    expect(promptCutNotice('prompt', 12, 'plain')).toBe(
      'The model reads 77 tokens; the last 12 of this prompt were ignored.',
    );
    expect(promptCutNotice('prompt', 30, 'a1111')).toBe(
      'The model reads at most 3 chunks of 75 tokens; the last 30 of this prompt were ignored.',
    );
    expect(promptCutNotice('negative prompt', 5, 'a1111', 1)).toBe(
      'The model reads at most 1 chunk of 75 tokens; the last 5 of this negative prompt were ignored.',
    );
  });
});
