import { ValidationError, parseSchedulerName, type ValidationIssue } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { KNOWN_FLAGS_TEXT, parsePromptFlags } from '../../../bot/src/prompt/flags.js';

function issuesOf(text: string): ValidationIssue[] {
  try {
    parsePromptFlags(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error(`"${text}" was accepted`);
}

const aspectHint = 'aspect must be W:H with positive integers, e.g. 16:9';
const schedulers = 'pndm, ddim, euler, euler_a, lms, heun, dpmpp_2m, dpmpp_2m_karras, unipc, lcm';
const unknown = `unknown flag; known flags: ${KNOWN_FLAGS_TEXT}`;

describe('prompt flags', () => {
  it('splits flags from the prompt and converts their values', () => {
    const parsed = parsePromptFlags(
      'a lighthouse  at dusk --ar 16:9 --seed 42 --steps 20 --cfg 6.5 --scheduler euler_a --count 2 --model sd15 --no blurry, text',
    );
    expect(parsed.prompt).toBe('a lighthouse at dusk');
    expect(parsed.flags).toEqual({
      aspect: { width: 16, height: 9 },
      seed: 42,
      steps: 20,
      guidance: 6.5,
      scheduler: 'euler_a',
      count: 2,
      model: 'sd15',
      negative: 'blurry, text',
    });
    expect(parsed.typed.steps).toBe('--steps 20');
  });

  it('accepts aliases, =, any case, and the dashes phones make of --', () => {
    const parsed = parsePromptFlags('castle \u2014AR 2:3 --W=768 \u2013h 512 --Guidance 3');
    expect(parsed.prompt).toBe('castle');
    expect(parsed.flags).toEqual({ aspect: { width: 2, height: 3 }, width: 768, height: 512, guidance: 3 });
    expect(parsed.typed).toEqual({
      aspect: '--ar 2:3',
      width: '--w 768',
      height: '--h 512',
      guidance: '--guidance 3',
    });
  });

  it('takes --no up to the next flag, adds repeated --no lists, and keeps text after a flag', () => {
    const parsed = parsePromptFlags('a cat --no dogs, birds --seed 3 sitting on a mat --no fog');
    expect(parsed.prompt).toBe('a cat sitting on a mat');
    expect(parsed.flags.negative).toBe('dogs, birds, fog');
    expect(parsed.flags.seed).toBe(3);
  });

  it('leaves dashes that are not flags in the prompt', () => {
    expect(parsePromptFlags('a cat -- sleeping \u2014 quietly --123 ---').prompt).toBe(
      'a cat -- sleeping \u2014 quietly --123 ---',
    );
  });

  it('reads scheduler names and labels in any spelling', () => {
    expect(parseSchedulerName('Euler a')).toBe('euler_a');
    expect(parseSchedulerName('EULER-A')).toBe('euler_a');
    expect(parseSchedulerName('DPM++ 2M Karras')).toBe('dpmpp_2m_karras');
    expect(parseSchedulerName('dpmpp-2m')).toBe('dpmpp_2m');
    expect(parseSchedulerName('uni_pc')).toBe('unipc');
    expect(parseSchedulerName('ddpm')).toBeUndefined();
    expect(parseSchedulerName('PNDM')).toBe('pndm');
    expect(parsePromptFlags('cat --sampler DPM++2M').flags.scheduler).toBe('dpmpp_2m');
  });

  const malformed: [string, ValidationIssue[]][] = [
    ['cat --ar 7:0', [{ field: '--ar 7:0', message: aspectHint }]],
    ['cat --ar 0:1', [{ field: '--ar 0:1', message: aspectHint }]],
    ['cat --ar 16', [{ field: '--ar 16', message: aspectHint }]],
    ['cat --ar wide', [{ field: '--ar wide', message: aspectHint }]],
    ['cat --ar 1.5:1', [{ field: '--ar 1.5:1', message: aspectHint }]],
    ['cat --aspect -1:2', [{ field: '--aspect -1:2', message: aspectHint }]],
    ['cat --ar 10:1', [{ field: '--ar 10:1', message: 'aspect must be between 1:4 and 4:1' }]],
    ['cat --ar 1:5', [{ field: '--ar 1:5', message: 'aspect must be between 1:4 and 4:1' }]],
    ['cat --ar', [{ field: '--ar', message: 'needs a value, e.g. --ar 16:9' }]],
    ['cat --seed', [{ field: '--seed', message: 'needs a value, e.g. --seed 42' }]],
    ['cat --seed abc', [{ field: '--seed abc', message: 'must be an integer in 0..4294967295' }]],
    ['cat --seed -1', [{ field: '--seed -1', message: 'must be an integer in 0..4294967295' }]],
    [
      'cat --seed 4294967296',
      [{ field: '--seed 4294967296', message: 'must be an integer in 0..4294967295' }],
    ],
    ['cat --seed 1.5', [{ field: '--seed 1.5', message: 'must be an integer in 0..4294967295' }]],
    ['cat --steps 500', [{ field: '--steps 500', message: 'must be an integer in 1..150' }]],
    ['cat --steps 0', [{ field: '--steps 0', message: 'must be an integer in 1..150' }]],
    ['cat --steps ten', [{ field: '--steps ten', message: 'must be an integer in 1..150' }]],
    ['cat --steps 1e2', [{ field: '--steps 1e2', message: 'must be an integer in 1..150' }]],
    ['cat --cfg 31', [{ field: '--cfg 31', message: 'must be a number in 0..30' }]],
    ['cat --cfg -1', [{ field: '--cfg -1', message: 'must be a number in 0..30' }]],
    ['cat --guidance high', [{ field: '--guidance high', message: 'must be a number in 0..30' }]],
    ['cat --cfg=', [{ field: '--cfg', message: 'needs a value, e.g. --cfg 7.5' }]],
    ['cat --count 5', [{ field: '--count 5', message: 'must be an integer in 1..4' }]],
    ['cat --count 0', [{ field: '--count 0', message: 'must be an integer in 1..4' }]],
    ['cat --w 100', [{ field: '--w 100', message: 'must be a multiple of 8 in 64..2048' }]],
    ['cat --h 4096', [{ field: '--h 4096', message: 'must be a multiple of 8 in 64..2048' }]],
    ['cat --width 32', [{ field: '--width 32', message: 'must be a multiple of 8 in 64..2048' }]],
    ['cat --scheduler foo', [{ field: '--scheduler foo', message: `must be one of ${schedulers}` }]],
    [
      'cat --model a/b',
      [{ field: '--model a/b', message: 'must be a model id: 1-64 letters, digits, "_" or "-"' }],
    ],
    ['cat --no', [{ field: '--no', message: 'needs a value, e.g. --no blurry, text' }]],
    ['cat --no --ar 16:9', [{ field: '--no', message: 'needs a value, e.g. --no blurry, text' }]],
    ['cat --steps --seed 4', [{ field: '--steps', message: 'needs a value, e.g. --steps 30' }]],
    ['cat --foo 3', [{ field: '--foo', message: unknown }]],
    [
      'cat --v 6 --stylize 100',
      [
        { field: '--v', message: unknown },
        { field: '--stylize', message: unknown },
      ],
    ],
    ['cat --seed 1 --seed 2', [{ field: '--seed 2', message: '--seed 1 was already given; keep one' }]],
    [
      'cat --ar 16:9 --aspect 1:1',
      [{ field: '--aspect 1:1', message: '--ar 16:9 was already given; keep one' }],
    ],
    [
      '--ar 16:9',
      [
        {
          field: 'prompt',
          message: 'is empty: describe the picture before the flags, e.g. a lighthouse at dusk --ar 16:9',
        },
      ],
    ],
    [
      '   ',
      [
        {
          field: 'prompt',
          message: 'is empty: describe the picture before the flags, e.g. a lighthouse at dusk --ar 16:9',
        },
      ],
    ],
    [
      '--ar 7:0 --steps 500',
      [
        { field: '--ar 7:0', message: aspectHint },
        { field: '--steps 500', message: 'must be an integer in 1..150' },
        {
          field: 'prompt',
          message: 'is empty: describe the picture before the flags, e.g. a lighthouse at dusk --ar 16:9',
        },
      ],
    ],
  ];

  it.each(malformed)('refuses %j with a message naming the flag', (text, expected) => {
    expect(issuesOf(text)).toEqual(expected);
  });

  it('puts every problem into one error message', () => {
    expect(() => parsePromptFlags('cat --ar 7:0 --steps 500')).toThrow(
      '--ar 7:0: aspect must be W:H with positive integers, e.g. 16:9; --steps 500: must be an integer in 1..150',
    );
  });
});
