import { deriveJob, jobSchema, type GuildSettings, type JobDraft } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { RequestRefusedError } from '../../../bot/src/errors.js';
import {
  enforcePolicy,
  SERVER_POLICY,
  type PolicyContext,
  type PolicyRule,
} from '../../../bot/src/requests/policy.js';
import { exampleImageRef, exampleJob, exampleSettings } from '../../helpers/messages.js';

const parent = jobSchema.parse(exampleJob({ prompt: 'a gore scene', negativePrompt: 'blood', steps: 30 }));
const reroll: JobDraft = deriveJob(parent, { type: 'reroll', seed: 1 });
const upscale: JobDraft = deriveJob(parent, { type: 'upscale', source: { image: exampleImageRef } });

function context(
  settings: Partial<GuildSettings> = {},
  overrides: Partial<PolicyContext> = {},
): PolicyContext {
  return {
    userId: '323456789012345678',
    roles: [],
    settings: exampleSettings({ maxSteps: undefined, maxCount: undefined, bannedWords: [], ...settings }),
    channel: { id: '223456789012345678' },
    models: ['sd15'],
    maxPixels: 1024 * 1024,
    ageRestricted: false,
    preferences: null,
    ...overrides,
  };
}

async function refusal(draft: JobDraft, ctx: PolicyContext, rules?: readonly PolicyRule[]) {
  try {
    await enforcePolicy(draft, ctx, rules);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('server policy', () => {
  it('allows what the settings allow', async () => {
    expect(await refusal(reroll, context())).toBeUndefined();
  });

  it('refuses channels outside the allow-list, but not threads of an allowed channel', async () => {
    const allowed = { allowedChannels: ['999999999999999999'] };
    expect(await refusal(reroll, context(allowed))).toMatchObject({ reason: 'channel-not-allowed' });
    const thread = { channel: { id: '223456789012345678', parentId: '999999999999999999' } };
    expect(await refusal(reroll, context(allowed, thread))).toBeUndefined();
  });

  it('refuses banned words in the prompt only; an upscale has no prompt to check', async () => {
    expect(await refusal(reroll, context({ bannedWords: ['gore'] }))).toBeInstanceOf(RequestRefusedError);
    expect(await refusal(reroll, context({ bannedWords: ['blood'] }))).toBeUndefined();
    expect(await refusal(upscale, context({ bannedWords: ['gore'] }))).toBeUndefined();
  });

  it('lists every value over a limit, and a model no worker serves', async () => {
    const error = await refusal(
      reroll,
      context({ maxSteps: 20, maxCount: 2, maxPixels: 128 * 128 }, { models: ['sdxl'] }),
    );
    expect(error).toMatchObject({
      issues: [
        { field: 'model', message: 'sd15 is not served right now; available: sdxl' },
        { field: 'steps', message: 'must be at most 20 on this server (got 30)' },
        { field: 'count', message: 'must be at most 2 on this server (got 4)' },
        {
          field: 'width x height',
          message: 'must be at most 16384 pixels on this server (got 512x512 = 262144)',
        },
      ],
    });
    expect(
      await refusal(upscale, context({ maxSteps: 20, maxCount: 2, maxPixels: 128 * 128 })),
    ).toBeUndefined();
  });

  it('takes a new rule as one more entry', async () => {
    const moderators: PolicyRule = (_draft, { roles }) => {
      if (!roles.includes('42'))
        throw new RequestRefusedError('not-permitted', 'Only moderators may draw here.');
      return [];
    };
    const rules = [...SERVER_POLICY, moderators];
    expect(await refusal(reroll, context({}, { roles: ['7'] }), rules)).toMatchObject({
      message: 'Only moderators may draw here.',
    });
    expect(await refusal(reroll, context({}, { roles: ['42'] }), rules)).toBeUndefined();
  });
});
