import { loadConfig, ValidationError, type ValidationIssue } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import {
  applySetting,
  resetSetting,
  SETTING_SPECS,
  settingsDefaultsFromConfig,
} from '../../../bot/src/settings/keys.js';
import {
  addBannedWords,
  allowChannel,
  disallowChannel,
  removeBannedWords,
} from '../../../bot/src/settings/lists.js';
import { defaultGuildSettings } from '../../../bot/src/settings/store.js';
import { formatBannedWords, formatChannels, formatSettingsView } from '../../../bot/src/settings/view.js';
import { exampleSettingsDefaults } from '../../helpers/bot-settings.js';

const guildId = '123456789012345678';
const defaults = exampleSettingsDefaults;

function issuesOf(action: () => unknown): ValidationIssue[] {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error('the change was accepted');
}

describe('guild setting keys', () => {
  it('takes the bot-wide values from the configuration', () => {
    expect(settingsDefaultsFromConfig(loadConfig({ env: {} }))).toEqual(defaults);
  });

  it('sets values typed as text, by user-facing key', () => {
    let settings = defaultGuildSettings(guildId);
    settings = applySetting(settings, 'max-steps', '40', defaults);
    settings = applySetting(settings, 'max-pixels', '768x768', defaults);
    settings = applySetting(settings, 'default-scheduler', 'Euler a', defaults);
    settings = applySetting(settings, 'guild-jobs-per-minute', '5', defaults);
    settings = applySetting(settings, 'nsfw-policy', 'Spoiler-In-Age-Restricted', defaults);
    expect(settings).toMatchObject({
      maxSteps: 40,
      maxPixels: 768 * 768,
      defaultScheduler: 'euler_a',
      rateLimits: { guildJobsPerMinute: 5 },
      // The policy's old name is still understood, and stored under its new one.
      nsfwPolicy: 'allow-in-age-restricted',
    });
    const reset = resetSetting(resetSetting(settings, 'max-steps'), 'guild-jobs-per-minute');
    expect(reset.maxSteps).toBeUndefined();
    expect('maxSteps' in reset).toBe(false);
    expect(reset.rateLimits).toEqual({});
    expect(resetSetting(settings, 'nsfw-policy').nsfwPolicy).toBe('block');
  });

  // Each refusal names the key as its field.
  const refused: [string, string, string][] = [
    ['max-steps', '500', 'must be an integer in 1..150 (got 500)'],
    ['max-steps', 'lots', 'must be an integer in 1..150 (got "lots")'],
    ['max-count', '0', 'must be an integer in 1..4 (got 0)'],
    ['max-pixels', '2048x2048', "must be at most 1048576, this bot's limit (got 4194304)"],
    ['strong-strength', '1.5', 'must be a number in 0..1 (got 1.5)'],
    ['default-model', 'my model', 'must be a model id: 1-64 letters, digits, "_" or "-" (got "my model")'],
    [
      'default-scheduler',
      'ddpm',
      'must be one of pndm, ddim, euler, euler_a, lms, heun, dpmpp_2m, dpmpp_2m_karras, unipc, lcm (got "ddpm")',
    ],
    ['nsfw-policy', 'allow', 'must be one of block, allow-in-age-restricted (got "allow")'],
    ['guild-burst', '0', 'must be an integer in 1..10000 (got 0)'],
    ['user-max-concurrent', '3', "must be at most 2, this bot's limit (got 3)"],
    [
      'colour',
      'red',
      `is not a setting; settings: ${SETTING_SPECS.map((spec) => spec.key).join(', ')}, banned-words, channels, roles, banned-users, channel-defaults`,
    ],
  ];

  it.each(refused)('refuses %s = %j naming the key', (key, text, message) => {
    expect(issuesOf(() => applySetting(defaultGuildSettings(guildId), key, text, defaults))).toEqual([
      { field: key, message },
    ]);
  });

  it('keeps the banned-word list unique, case-insensitively, within the schema limits', () => {
    let settings = addBannedWords(defaultGuildSettings(guildId), 'Gore, blood  bath\nGORE,,');
    expect(settings.bannedWords).toEqual(['gore', 'blood bath']);
    settings = addBannedWords(settings, 'gore, spiders');
    expect(settings.bannedWords).toEqual(['gore', 'blood bath', 'spiders']);
    settings = removeBannedWords(settings, 'BLOOD BATH, unknown');
    expect(settings.bannedWords).toEqual(['gore', 'spiders']);
    expect(issuesOf(() => addBannedWords(settings, 'x'.repeat(101)))).toEqual([
      { field: 'banned-words', message: `must be text of 1..100 characters (got "${'x'.repeat(36)}...)` },
    ]);
  });

  it('adds and removes allowed channels', () => {
    const one = allowChannel(defaultGuildSettings(guildId), '523456789012345678');
    expect(allowChannel(one, '523456789012345678').allowedChannels).toEqual(['523456789012345678']);
    expect(formatChannels(one)).toBe('/imagine works only in <#523456789012345678>.');
    expect(disallowChannel(one, '523456789012345678').allowedChannels).toEqual([]);
    expect(issuesOf(() => allowChannel(one, 'general'))).toEqual([
      { field: 'channels', message: 'must be a Discord id (17-20 digits) (got "general")' },
    ]);
  });

  it('shows every setting with the bot default where the server set nothing', () => {
    const settings = {
      ...applySetting(defaultGuildSettings(guildId), 'max-steps', '40', defaults),
      bannedWords: ['gore'],
      updatedAt: 1_764_000_000_000,
      updatedBy: '323456789012345678',
    };
    const view = formatSettingsView(settings, defaults);
    expect(view.split('\n')).toEqual([
      '**Settings of this server** (last changed <t:1764000000:R> by <@323456789012345678>)',
      '`max-steps`: 40',
      '`max-pixels`: 1048576 (bot default)',
      '`max-count`: 4 (bot default)',
      '`default-model`: the first model online (bot default)',
      '`default-scheduler`: pndm (PNDM) (bot default)',
      '`subtle-strength`: 0.35 (bot default)',
      '`strong-strength`: 0.75 (bot default)',
      '`upscale-factor`: 2 (bot default)',
      '`upscale-max-pixels`: 4194304 (2048x2048) (bot default)',
      '`creative-strength`: 0.35 (bot default)',
      '`nsfw-policy`: block',
      '`user-daily-images`: no quota (bot default)',
      '`server-daily-images`: no quota (bot default)',
      '`prompt-syntax`: a1111 (bot default)',
      '`guild-jobs-per-minute`: 20 (bot default)',
      '`guild-burst`: 10 (bot default)',
      '`user-jobs-per-minute`: 6 (bot default)',
      '`user-burst`: 3 (bot default)',
      '`user-max-concurrent`: 2 (bot default)',
      '`guild-max-queued`: 25 (bot default)',
      '`banned-words`: 1 (see /settings banned-words list)',
      '`channels`: /imagine works in every channel.',
      '`roles`: Every member may create images.',
      '`banned-users`: none',
      '`channel-defaults`: none',
      'Change with /settings set, undo with /settings reset.',
    ]);
    expect(formatBannedWords(settings)).toBe('1 banned word: gore');
    expect(formatSettingsView(defaultGuildSettings(guildId), defaults)).toMatch(/all the bot's defaults/);
  });
});
