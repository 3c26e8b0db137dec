import { describe, expect, it } from 'vitest';
import type { GenerationJob } from '@sdbot/shared';
import { parsePromptFlags } from '../../../bot/src/prompt/flags.js';
import { encodeRemixModalId, parseRemixModalId, remixText } from '../../../bot/src/remix/form.js';

describe('remix form', () => {
  it('carries the button action in its custom_id and reads it back strictly', () => {
    const id = encodeRemixModalId({ type: 'variation', jobId: 'job-1', index: 2 });
    expect(id).toBe('remix:sdbot:v:job-1:2');
    expect(parseRemixModalId(id)).toEqual({
      ok: true,
      action: { type: 'variation', jobId: 'job-1', index: 2 },
    });
    expect(parseRemixModalId('remix:sdbot:r:job-1')).toEqual({
      ok: true,
      action: { type: 'reroll', jobId: 'job-1' },
    });
    expect(parseRemixModalId('remix:sdbot:v:job-1')).toMatchObject({ ok: false });
    expect(parseRemixModalId('remix:sdbot:r:job-1:0')).toMatchObject({ ok: false });
    expect(parseRemixModalId('remix:sdbot:d:job-1')).toEqual({
      ok: false,
      reason: 'action "delete" has no remix form',
    });
    expect(parseRemixModalId('vary-image:123')).toMatchObject({ ok: false });
  });

  it('prefills the prompt and the flags /imagine reads back to the same settings', () => {
    // The settings the flags carry: the job's, and what /imagine reads back from the text.
    const settings = {
      width: 768,
      height: 512,
      steps: 30,
      guidance: 7.5,
      scheduler: 'euler_a',
      model: 'sd15',
      count: 4,
    } as const;
    const job = {
      kind: 'txt2img',
      prompt: 'a lighthouse',
      negativePrompt: 'blurry, text',
      ...settings,
      seed: 42,
    } as GenerationJob;
    const text = remixText(job);
    expect(text).toBe(
      'a lighthouse --w 768 --h 512 --steps 30 --cfg 7.5 --scheduler euler_a --model sd15 --count 4 --no blurry, text',
    );
    expect(parsePromptFlags(text)).toMatchObject({
      prompt: 'a lighthouse',
      flags: settings,
    });
    expect(remixText({ ...job, negativePrompt: '' })).not.toContain('--no');
  });
});
