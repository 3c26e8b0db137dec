/** Member preferences, role and ban checks, and the per-server lists that feed them. */
import { describe, expect, it } from 'vitest';
import {
  guildSettingsSchema,
  LIMITS,
  ValidationError,
  type GuildSettings,
  type ValidationIssue,
} from '@sdbot/shared';
import { RequestRefusedError } from '../../../bot/src/errors.js';
import {
  applyPreferences,
  formatPreferences,
  resetPreference,
} from '../../../bot/src/preferences/changes.js';
import { defaultUserPreferences } from '../../../bot/src/preferences/store.js';
import { refuseMember, type MemberRef } from '../../../bot/src/settings/access.js';
import {
  allowRole,
  banUser,
  clearChannelDefaults,
  disallowRole,
  setChannelDefaults,
  unbanUser,
} from '../../../bot/src/settings/lists.js';
import { defaultGuildSettings } from '../../../bot/src/settings/store.js';
import { exampleSettings } from '../../helpers/messages.js';

const guildId = '123456789012345678';
const member = '223456789012345678';
const role = '323456789012345678';
const channel = '423456789012345678';

function issuesOf(action: () => unknown): readonly ValidationIssue[] {
  try {
    action();
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

function refusalOf(settings: GuildSettings | null, ref: MemberRef): string {
  try {
    refuseMember(settings, ref);
  } catch (error) {
    if (error instanceof RequestRefusedError) return `${error.reason}: ${error.message}`;
    throw error;
  }
  return 'allowed';
}

describe('member access', () => {
  it('lets everyone in when no roles are listed and nobody is banned', () => {
    expect(refusalOf(defaultGuildSettings(guildId), { userId: member, roleIds: [] })).toBe('allowed');
    expect(refusalOf(null, { userId: member, roleIds: [] })).toBe('allowed');
  });

  it('refuses banned members, whatever their roles', () => {
    const settings = allowRole(banUser(defaultGuildSettings(guildId), member), role);
    expect(refusalOf(settings, { userId: member, roleIds: [role] })).toBe(
      'user-banned: You may not create images in this server.',
    );
    expect(refusalOf(unbanUser(settings, member), { userId: member, roleIds: [role] })).toBe('allowed');
  });

  it('lets only members with a listed role in', () => {
    const settings = allowRole(defaultGuildSettings(guildId), role);
    expect(refusalOf(settings, { userId: member, roleIds: ['999999999999999999'] })).toBe(
      `role-not-allowed: This server lets only members with <@&${role}> create images.`,
    );
    expect(refusalOf(settings, { userId: member, roleIds: [role] })).toBe('allowed');
    expect(disallowRole(settings, role).allowedRoles).toEqual([]);
  });
});

describe('channel defaults', () => {
  it('sets, merges, removes and validates a channel default', () => {
    let settings = setChannelDefaults(defaultGuildSettings(guildId), channel, { model: 'sd15' });
    settings = setChannelDefaults(settings, channel, { negativePrompt: 'blurry' });
    expect(settings.channelDefaults).toEqual({ [channel]: { model: 'sd15', negativePrompt: 'blurry' } });
    settings = setChannelDefaults(settings, channel, { negativePrompt: '' });
    expect(settings.channelDefaults).toEqual({ [channel]: { model: 'sd15' } });
    expect(clearChannelDefaults(settings, channel).channelDefaults).toEqual({});
    expect(issuesOf(() => setChannelDefaults(settings, channel, { model: 'no spaces' }))).toEqual([
      {
        field: 'channel-defaults',
        message: 'must be a model id: 1-64 letters, digits, "_" or "-" (got "no spaces")',
      },
    ]);
  });
});

describe('NSFW policy', () => {
  it('reads the stored old name as allow-in-age-restricted', () => {
    const stored = { ...exampleSettings(), nsfwPolicy: 'spoiler-in-age-restricted' };
    expect(guildSettingsSchema.parse(stored).nsfwPolicy).toBe('allow-in-age-restricted');
  });

  it('reads settings stored before roles, bans, quotas and channel defaults existed', () => {
    const { allowedRoles: _r, bannedUsers: _b, channelDefaults: _c, ...old } = exampleSettings();
    expect(guildSettingsSchema.parse(old)).toMatchObject({
      allowedRoles: [],
      bannedUsers: [],
      channelDefaults: {},
    });
  });
});

describe('member preferences', () => {
  const userId = member;

  it('changes only what is given; an aspect ratio and a size replace each other', () => {
    let preferences = applyPreferences(defaultUserPreferences(userId), { steps: 30, aspect: '16:9' });
    expect(preferences).toMatchObject({ steps: 30, aspect: '16:9', remix: false });
    preferences = applyPreferences(preferences, { width: 768, remix: true });
    expect(preferences.aspect).toBeUndefined();
    expect(preferences).toMatchObject({ steps: 30, width: 768, remix: true });
    preferences = applyPreferences(preferences, { negative: '  blurry  ' });
    expect(preferences.negativePrompt).toBe('blurry');
    expect(applyPreferences(preferences, { negative: '' }).negativePrompt).toBeUndefined();
  });

  it('refuses values outside the limits, naming the option', () => {
    expect(issuesOf(() => applyPreferences(defaultUserPreferences(userId), { width: 500 }))).toEqual([
      { field: 'width', message: `must be a multiple of ${LIMITS.sizeMultiple} in 64..2048 (got 500)` },
    ]);
    expect(
      issuesOf(() =>
        applyPreferences(defaultUserPreferences(userId), {
          negative: 'x'.repeat(LIMITS.negativePromptMaxChars + 1),
        }),
      ).map((issue) => issue.field),
    ).toEqual(['negative']);
  });

  it('resets one preference or all', () => {
    const preferences = applyPreferences(defaultUserPreferences(userId), {
      steps: 30,
      width: 768,
      height: 512,
      remix: true,
      count: 2,
    });
    expect(resetPreference(preferences, 'size')).not.toHaveProperty('width');
    expect(resetPreference(preferences, 'steps')).not.toHaveProperty('steps');
    expect(resetPreference(preferences, 'remix').remix).toBe(false);
    expect(resetPreference(preferences, 'all')).toEqual(defaultUserPreferences(userId));
  });

  it('shows preferences and the quota of the server', () => {
    const preferences = applyPreferences(defaultUserPreferences(userId), { steps: 30, scheduler: 'euler_a' });
    const text = formatPreferences(preferences, {
      limits: { user: 20, server: 100 },
      usage: { user: 4, server: 10, resetsAt: 3_600_000 * 5 },
      now: 0,
    });
    expect(text.split('\n')).toEqual([
      '**Your preferences** (kept in every server; a server may cap them)',
      '`negative`: not set',
      '`steps`: 30',
      '`size`: not set',
      '`scheduler`: euler_a (Euler a)',
      '`count`: not set',
      '`remix`: off',
      '**Today** (UTC): you have used 4 of 20 images, the server 10 of 100; resets in 5 h 0 min.',
      'Change with /preferences set, undo with /preferences reset.',
    ]);
  });
});
