/**
 * Banned words hold against disguises a member would try (invisible characters, look-alike letters
 * from other scripts, A1111 weight syntax) while ordinary prompts that merely contain the letters
 * pass.
 */
import { describe, expect, it } from 'vitest';
import { findBannedWord, skeleton, withoutWeightSyntax } from '../../../bot/src/prompt/banned-words.js';

const RULES = ['gore', 'blood bath', 'blood'];

/** Each is a disguised use of "gore" or "blood": every one must be caught. */
const EVASIONS: readonly [string, string][] = [
  ['plain', 'a scene of gore at night'],
  ['upper case', 'GORE everywhere'],
  ['mixed case', 'GoRe'],
  ['fullwidth', 'ＧＯＲＥ'],
  ['zero-width space', 'g\u200bore'],
  ['zero-width non-joiner', 'go\u200cre'],
  ['zero-width joiner', 'gor\u200de'],
  ['word joiner', 'g\u2060ore'],
  ['byte order mark', 'g\ufeffore'],
  ['soft hyphen', 'go\u00adre'],
  ['bell control character', 'g\u0007ore'],
  ['escape control character', 'go\u001bre'],
  ['right-to-left mark', 'go\u200fre'],
  ['Cyrillic o', 'g\u043ere'],
  ['Cyrillic e', 'gor\u0435'],
  ['Greek omicron', 'g\u03bfre'],
  ['Latin script g', '\u0261ore'],
  ['mathematical bold', '𝐠𝐨𝐫𝐞'],
  ['mathematical script', '𝓰𝓸𝓻𝓮'],
  ['circled letters', 'ⓖⓞⓡⓔ'],
  ['combining accent', 'go\u0300re'],
  ['weight syntax inside the word', 'go(r)e'],
  ['weighted', '(gore:1.3)'],
  ['de-emphasised', '[gore]'],
  ['double emphasis', '((gore))'],
  ['brackets around letters', 'g(o)r[e]'],
  ['zero-width, Cyrillic and soft hyphen together', 'g\u200b\u043e\u00adre'],
  ['Cyrillic o in blood', 'bl\u043e\u043ed'],
  ['fullwidth blood', 'Ｂｌｏｏｄ'],
  ['soft hyphen in blood', 'blo\u00adod'],
  ['weight syntax in blood', 'bl(oo)d'],
  ['weighted blood', '(blood:0.8) on the floor'],
  ['zero-width space in blood', 'b\u200blood'],
  ['phrase with odd spacing', 'a blood \u00a0 bath'],
  ['Greek omicrons in blood', 'bl\u03bf\u03bfd'],
];

/** Ordinary prompts that contain the banned letters inside other words, or look-alike scripts. */
const INNOCENT = [
  'gorgeous sunset over the sea',
  'a bloodhound in a field',
  'a deep gorge at dawn',
  'gorgonzola cheese on a plate',
  'full-blooded stallion running',
  'bloodstone gem, macro photo',
  'the bloodline of kings, oil painting',
  'an ogre in a swamp',
  'apple core on a table',
  'a red rose in the rain',
  'flood plains from above',
  'a brood of chicks',
  'blonde hair, portrait',
  'a bold poster design',
  'a gondola in Venice',
  'Göreme balloons at sunrise',
  'Москва зимой, акварель',
  'Αθήνα τη νύχτα',
  '東京の夜景',
  'a cat 🐱 wearing a hat',
  'Straße in Berlin',
  'a glorious pumpkin',
  'the goretti family portrait',
  'bloody mary cocktail',
  'blooded knight armor',
  'a gorilla in the jungle',
  'georgia peaches',
  '(masterpiece:1.2), best quality, [blurry], a castle',
  'a bathtub full of bubbles',
  'a crimson moon over the hills',
];

describe('banned words', () => {
  it.each(EVASIONS)('catches %s', (_name, prompt) => {
    expect(findBannedWord(prompt, RULES)).toBeDefined();
  });

  it(`has at least 30 evasions and 30 innocent prompts (${EVASIONS.length}, ${INNOCENT.length})`, () => {
    expect(EVASIONS.length).toBeGreaterThanOrEqual(30);
    expect(INNOCENT.length).toBeGreaterThanOrEqual(30);
  });

  it.each(INNOCENT)('lets %j through', (prompt) => {
    expect(findBannedWord(prompt, RULES)).toBeUndefined();
  });

  it('names the rule as configured', () => {
    expect(findBannedWord('a blood  bath', ['Blood Bath'])).toBe('Blood Bath');
    expect(findBannedWord('ＧＯＲＥ', ['gore'])).toBe('gore');
  });

  it('matches inside words only for rules written *word*, word* or *word', () => {
    expect(findBannedWord('gorgeous', ['gore'])).toBeUndefined();
    expect(findBannedWord('bloodhound', ['*blood*'])).toBe('*blood*');
    expect(findBannedWord('a g\u200borgeous view', ['*gorg*'])).toBe('*gorg*');
    expect(findBannedWord('bloodhound', ['blood*'])).toBe('blood*');
    expect(findBannedWord('hound of blood', ['*hound'])).toBe('*hound');
    expect(findBannedWord('bloodhound', ['*blood'])).toBeUndefined();
    expect(findBannedWord('houndblood', ['blood*'])).toBeUndefined();
  });

  it('treats regular-expression characters in rules literally', () => {
    expect(findBannedWord('a.b', ['a.b'])).toBe('a.b');
    expect(findBannedWord('axb', ['a.b'])).toBeUndefined();
    expect(findBannedWord('anything', ['*', '  ', '**'])).toBeUndefined();
  });

  it('removes A1111 weight syntax but keeps escaped brackets literal', () => {
    expect(withoutWeightSyntax('go(r)e, (a cat:1.2), [dog], \\(literal\\)')).toBe(
      'gore, a cat, dog, (literal)',
    );
  });

  it('folds text to a comparable skeleton', () => {
    expect(skeleton('ＧＯ\u00adＲＥ')).toBe('gore');
    expect(skeleton('Straße')).toBe('strasse');
    expect(skeleton('line\nbreak')).toBe('line break');
  });
});
