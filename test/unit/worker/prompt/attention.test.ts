/**
 * The A1111 attention parser against what A1111's own `parse_prompt_attention` returns: its
 * documented examples first, then nesting, escapes, unbalanced brackets, malformed weights and
 * BREAK. Expected weights are A1111's, float for float (1.1 * 1.1 is 1.2100000000000002 there too).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isBreak, parsePromptAttention } from '../../../../worker/src/diffusion/prompt/index.js';

/**
 * Random prompts over brackets, escapes, weights, BREAK, Unicode spaces and digits, with the
 * fragments A1111's parse_prompt_attention returned for each (inputs it rejects left out).
 */
const A1111_CASES = JSON.parse(
  readFileSync(new URL('./a1111-parse-cases.json', import.meta.url), 'utf8'),
) as { prompt: string; fragments: [string, number][] }[];

const parse = (text: string) => parsePromptAttention(text).map(({ text: part, weight }) => [part, weight]);

/** A table of prompts and the fragments A1111 makes of each, one test a prompt named by `title`. */
function parsesAs(title: string, cases: [string, [string, number][]][]): void {
  it.each(cases)(title, (prompt, expected) => {
    expect(parse(prompt)).toEqual(expected);
  });
}

describe('A1111 attention syntax', () => {
  parsesAs("A1111's documented example %j", [
    ['normal text', [['normal text', 1]]],
    [
      'an (important) word',
      [
        ['an ', 1],
        ['important', 1.1],
        [' word', 1],
      ],
    ],
    ['(unbalanced', [['unbalanced', 1.1]]],
    ['\\(literal\\]', [['(literal]', 1]]],
    ['(unnecessary)(parens)', [['unnecessaryparens', 1.1]]],
    [
      'a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).',
      [
        ['a ', 1],
        ['house', 1.5730000000000004],
        [' ', 1.1],
        ['on', 1],
        [' a ', 1.1],
        ['hill', 0.55],
        [', sun, ', 1.1],
        ['sky', 1.4641000000000006],
        ['.', 1.1],
      ],
    ],
  ]);

  parsesAs('weights and nesting: %j', [
    ['((word))', [['word', 1.2100000000000002]]],
    ['(word:1.3)', [['word', 1.3]]],
    ['[word]', [['word', 0.9090909090909091]]],
    ['[[word]]', [['word', 0.8264462809917354]]],
    [
      'a ((b:1.5) c)',
      [
        ['a ', 1],
        ['b', 1.6500000000000001],
        [' c', 1.1],
      ],
    ],
    [
      '((a)[b])',
      [
        ['a', 1.2100000000000002],
        ['b', 1],
      ],
    ],
    [
      '(masterpiece:1.2), best quality, [blurry]',
      [
        ['masterpiece', 1.2],
        [', best quality, ', 1],
        ['blurry', 0.9090909090909091],
      ],
    ],
  ]);

  parsesAs('escapes: %j', [
    ['a \\\\ b', [['a \\ b', 1]]],
    // A backslash before anything else is dropped, as A1111 drops it.
    ['a\\b', [['ab', 1]]],
    [
      '\\\\(x)',
      [
        ['\\', 1],
        ['x', 1.1],
      ],
    ],
    ['\\(x\\)', [['(x)', 1]]],
  ]);

  parsesAs('unbalanced brackets: %j', [
    [
      'a ((b) c',
      [
        ['a ', 1],
        ['b', 1.2100000000000002],
        [' c', 1.1],
      ],
    ],
    [
      'a [b',
      [
        ['a ', 1],
        ['b', 0.9090909090909091],
      ],
    ],
    ['a ] b ) c', [['a ] b ) c', 1]]],
    ['word:1.5)', [['word:1.5)', 1]]],
  ]);

  parsesAs('weights, well-formed or not: %j', [
    ['(word:notanumber)', [['word:notanumber', 1.1]]],
    ['(word: 1.5 )', [['word', 1.5]]],
    ['(word:-1)', [['word', -1]]],
    ['(word:.5)', [['word', 0.5]]],
    ['(word:2.)', [['word', 2]]],
    // Square brackets take no weight: the number is text.
    ['[word:1.5]', [['word:1.5', 0.9090909090909091]]],
    // Digits of other scripts are numbers to Python's float(), so to A1111.
    ['(word:\u0663.\u0665)', [['word', 3.5]]],
  ]);

  it(`matches A1111 on ${A1111_CASES.length} random prompts of odd syntax`, () => {
    for (const { prompt, fragments } of A1111_CASES)
      expect(parse(prompt), JSON.stringify(prompt)).toEqual(fragments);
  });

  it('a weight Python cannot read stays text instead of failing the prompt', () => {
    expect(parse('(a:1.2.3)')).toEqual([['a:1.2.3', 1.1]]);
    expect(parse('(a:..)')).toEqual([['a:..', 1.1]]);
  });

  parsesAs('BREAK: %j', [
    [
      'a BREAK b',
      [
        ['a', 1],
        ['BREAK', -1],
        ['b', 1],
      ],
    ],
    [
      'BREAK',
      [
        ['', 1],
        ['BREAK', -1],
        ['', 1],
      ],
    ],
    ['aBREAK b', [['aBREAK b', 1]]],
    ['a BREAKb', [['a BREAKb', 1]]],
    ['a break b', [['a break b', 1]]],
    // Python's \b sees letters of every script: no break inside "ÉBREAK".
    ['\u00c9BREAK b', [['\u00c9BREAK b', 1]]],
    // Inside brackets the marker's weight changes, so A1111 reads it as the word "BREAK".
    [
      '(a BREAK b)',
      [
        ['a', 1.1],
        ['BREAK', -1.1],
        ['b', 1.1],
      ],
    ],
  ]);

  it('marks only a top-level BREAK as a chunk break', () => {
    expect(parsePromptAttention('a BREAK b').filter(isBreak)).toHaveLength(1);
    expect(parsePromptAttention('(a BREAK b)').filter(isBreak)).toHaveLength(0);
  });

  parsesAs('empty prompts and unsupported constructs stay text: %j', [
    ['', [['', 1]]],
    ['   ', [['   ', 1]]],
    ['[a:b:0.5]', [['a:b:0.5', 0.9090909090909091]]],
    ['[a|b]', [['a|b', 0.9090909090909091]]],
    ['<lora:add_detail:0.8> cat', [['<lora:add_detail:0.8> cat', 1]]],
  ]);
});
