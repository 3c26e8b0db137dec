/** The bot's side of the prompt syntax: the per-server setting, the job it builds and the embed. */
import { jobResultSchema, jobSchema, loadConfig, ValidationError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { buildJobRequest, jobDefaultsFromConfig } from '../../../bot/src/prompt/job-request.js';
import { resultEmbed } from '../../../bot/src/render/embed.js';
import { applySetting, resetSetting, settingsDefaultsFromConfig } from '../../../bot/src/settings/keys.js';
import { defaultGuildSettings } from '../../../bot/src/settings/store.js';
import { exampleJob, exampleResult, exampleSettings } from '../../helpers/messages.js';

const config = loadConfig({ env: { SDBOT_DEFAULT_MODEL: 'sd15' } });
const guildId = '123456789012345678';
const channel = { id: '223456789012345678' };

const request = (prompt: string, promptSyntax?: 'a1111' | 'plain') =>
  buildJobRequest(
    { prompt },
    {
      defaults: jobDefaultsFromConfig(config),
      settings: exampleSettings({ bannedWords: [], ...(promptSyntax === undefined ? {} : { promptSyntax }) }),
      channel,
      randomSeed: () => 7,
    },
  );

const fields = (embed: ReturnType<typeof resultEmbed>) =>
  Object.fromEntries((embed.fields ?? []).map((field) => [field.name, field.value]));

describe('prompt syntax in the bot', () => {
  it('/settings set prompt-syntax plain, reset back to the a1111 default; other values are refused', () => {
    const defaults = settingsDefaultsFromConfig(config);
    const plain = applySetting(defaultGuildSettings(guildId), 'prompt-syntax', ' PLAIN ', defaults);
    expect(plain.promptSyntax).toBe('plain');
    expect(resetSetting(plain, 'prompt-syntax').promptSyntax).toBeUndefined();
    expect(() => applySetting(defaultGuildSettings(guildId), 'prompt-syntax', 'nai', defaults)).toThrow(
      ValidationError,
    );
  });

  it('the job carries the raw prompt and the server syntax (a1111 unless the server chose plain)', () => {
    expect(request('(masterpiece:1.2), a lighthouse')).toMatchObject({
      prompt: '(masterpiece:1.2), a lighthouse',
      syntax: 'a1111',
    });
    expect(request('a lighthouse', 'plain').syntax).toBe('plain');
  });

  it('the embed says how much an a1111 prompt lost past 3 chunks, and names unsupported constructs', () => {
    const job = jobSchema.parse(exampleJob({ prompt: 'a [cat|dog] <lora:x:1>', syntax: 'a1111' }));
    const result = jobResultSchema.parse(
      exampleResult({ truncatedTokens: 20, negativeTruncatedTokens: 3, promptChunkLimit: 3 }),
    );
    expect(fields(resultEmbed(job, result))).toMatchObject({
      'Prompt cut short':
        'The model reads at most 3 chunks of 75 tokens; the last 20 of this prompt were ignored. ' +
        'The model reads at most 3 chunks of 75 tokens; the last 3 of this negative prompt were ignored.',
      'Prompt syntax':
        'Not supported here, read as plain text: alternation [a|b], extra networks <lora:...>.',
    });
    const plain = jobSchema.parse(exampleJob({ prompt: 'a [cat|dog]', syntax: 'plain' }));
    expect(
      fields(resultEmbed(plain, jobResultSchema.parse(exampleResult())))['Prompt syntax'],
    ).toBeUndefined();
  });

  it('the embed of an empty prompt says it was unconditional', () => {
    const job = jobSchema.parse(exampleJob({ prompt: '' }));
    expect(resultEmbed(job, jobResultSchema.parse(exampleResult())).description).toBe(
      '*(no prompt: unconditional)*',
    );
  });
});
