/**
 * The pieces of result delivery that need no Discord or NATS: the throttled progress editor, the
 * messages about a job, what /imagine refuses before deferring, and Discord's failure modes.
 */
import { DiscordAPIError } from 'discord.js';
import sharp from 'sharp';
import { ValidationError, type GenerationJob, type JobResult } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { ThrottledEditor } from '../../../bot/src/delivery/throttled-editor.js';
import { failureText, progressView, queuedView, resultView } from '../../../bot/src/delivery/views.js';
import { checkImagineInput, type JobDefaults } from '../../../bot/src/prompt/job-request.js';
import {
  isAlreadyAnswered,
  isDeadReply,
  isPermanentDiscordFailure,
} from '../../../bot/src/service/discord.js';

function deferred() {
  const settle = { resolve: () => undefined as unknown };
  const promise = new Promise<void>((resolve) => {
    settle.resolve = resolve;
  });
  return {
    promise,
    resolve: () => {
      settle.resolve();
    },
  };
}

describe('ThrottledEditor', () => {
  /** `manualClock`: time moves only with `advance`; otherwise the real clock. */
  function editor(intervalMs: number, manualClock = true) {
    let now = 0;
    const sent: string[] = [];
    const pending: ReturnType<typeof deferred>[] = [];
    const throttled = new ThrottledEditor<string>({
      intervalMs,
      key: (view) => view,
      now: manualClock ? () => now : Date.now,
      onError: () => undefined,
      send: (view) => {
        sent.push(view);
        const done = deferred();
        pending.push(done);
        return done.promise;
      },
    });
    return {
      throttled,
      sent,
      advance: (ms: number) => (now += ms),
      finishEdit: async () => {
        pending.shift()?.resolve();
        await new Promise((resolve) => setImmediate(resolve));
      },
    };
  }

  it('sends the first view at once and never has two edits in flight', async () => {
    const { throttled, sent, advance, finishEdit } = editor(0);
    throttled.update('step 1');
    throttled.update('step 2');
    throttled.update('step 3');
    expect(sent).toEqual(['step 1']);
    advance(10);
    await finishEdit();
    // Only the newest waiting view is sent; step 2 was never queued.
    expect(sent).toEqual(['step 1', 'step 3']);
  });

  it('waits out the interval between edits, then sends the latest view', async () => {
    const { throttled, sent, finishEdit } = editor(40, false);
    throttled.update('a');
    await finishEdit();
    throttled.update('b');
    throttled.update('c');
    expect(sent).toEqual(['a']);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(sent).toEqual(['a', 'c']);
    const closing = throttled.close();
    await finishEdit();
    await closing;
  });

  it('does not send a view equal to the last one, and close drops what waits', async () => {
    const { throttled, sent, advance, finishEdit } = editor(0);
    throttled.update('same');
    advance(1);
    await finishEdit();
    throttled.update('same');
    expect(sent).toEqual(['same']);
    throttled.update('other');
    throttled.update('dropped');
    const closing = throttled.close();
    await finishEdit();
    await closing;
    throttled.update('after close');
    expect(sent).toEqual(['same', 'other']);
  });
});

const job: GenerationJob = {
  v: 1,
  id: 'discord-1234567890123456789',
  kind: 'txt2img',
  prompt: 'a *bold* fox',
  negativePrompt: '',
  seed: 7,
  steps: 10,
  guidance: 7.5,
  width: 64,
  height: 64,
  scheduler: 'euler_a',
  rng: 'numpy',
  model: 'sim',
  count: 2,
  requester: {
    source: 'discord',
    guildId: '123456789012345678',
    channelId: '123456789012345679',
    userId: '223456789012345678',
  },
  createdAt: 1,
};

function png(colour: string) {
  return sharp({ create: { width: 64, height: 64, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

describe('messages about a job', () => {
  it('says where a waiting job is and how far a running one got', () => {
    expect(queuedView(job, { ahead: 3, capped: false }).content).toBe(
      '**a \\*bold\\* fox** - queued, 3 jobs ahead',
    );
    expect(queuedView(job, { ahead: 100, capped: true }).content).toContain('100 jobs or more ahead');
    expect(queuedView(job, null).content).toContain('starting');
    const progress = progressView(
      job,
      { v: 1, jobId: job.id, workerId: 'w', step: 3, total: 12, at: 1 },
      Buffer.from('png'),
    );
    expect(progress.content).toBe('**a \\*bold\\* fox** - step 3/12 (25%)');
    expect(progress.files.map((file) => file.name)).toEqual(['preview.png']);
    expect(progress.components[0]?.components.map((button) => button.label)).toEqual(['Cancel']);
  });

  it('explains failures without leaking internal details', () => {
    expect(
      failureText({ code: 'CANCELLED', message: 'cancelled by 223456789012345678', retryable: false }),
    ).toBe('cancelled by <@223456789012345678>');
    expect(
      failureText({ code: 'UNKNOWN_MODEL', message: 'no worker serves model "x"', retryable: false }),
    ).toBe('failed: no worker serves model "x"');
    expect(
      failureText({ code: 'INFERENCE_FAILED', message: 'CUDA out of memory at /opt/x', retryable: true }),
    ).toBe('failed (INFERENCE_FAILED); please try again in a moment');
    expect(failureText({ code: 'TIMEOUT', message: 'x', retryable: true })).toMatch(/took too long/);
  });

  it('spoilers a result only when asked, keeps it out of the embed, and disables withheld images', async () => {
    const image = (seed: number, nsfw: boolean) => ({
      image: {
        store: 'sdbot-images',
        name: `${job.id}/${seed}.png`,
        size: 1,
        contentType: 'image/png' as const,
      },
      seed,
      nsfw,
      watermarked: false,
      width: 64,
      height: 64,
    });
    const result: JobResult = {
      v: 1,
      type: 'result',
      jobId: job.id,
      workerId: 'w',
      model: 'sim',
      images: [image(7, false), image(8, true)],
      truncatedTokens: 0,
      timings: { queuedMs: 5, totalMs: 50, stages: {} },
      completedAt: 2,
    };
    const input = {
      job,
      result,
      images: [await png('#ff0000'), await png('#404040')],
      userId: '2',
      attachmentLimit: 1 << 20,
    };
    const plain = await resultView({ ...input, spoiler: false });
    expect(plain.files[0]?.name).toBe(`sdbot-${job.id}.png`);
    expect(plain.embeds[0]?.image?.url).toBe(`attachment://sdbot-${job.id}.png`);
    const buttons = plain.components.flatMap((row) => row.components);
    expect(buttons.filter((button) => button.disabled === true).map((button) => button.label)).toEqual([
      'U2',
      'V2',
    ]);
    const spoilered = await resultView({ ...input, spoiler: true });
    expect(spoilered.files[0]?.name).toBe(`SPOILER_sdbot-${job.id}.png`);
    expect(spoilered.embeds[0]?.image).toBeUndefined();
  });
});

describe('checkImagineInput', () => {
  const defaults: JobDefaults = {
    scheduler: 'pndm',
    steps: 30,
    guidance: 7.5,
    count: 4,
    baseSize: 512,
    maxPixels: 512 * 512,
  };

  it('accepts what only the guild or the workers could refuse', () => {
    expect(() => {
      checkImagineInput({ prompt: 'a gore scene --model nosuch --steps 150' }, defaults);
    }).not.toThrow();
  });

  it('lists every flag and option problem at once', () => {
    const check = () => {
      checkImagineInput({ prompt: 'a cat --steps 0 --ar 9:0', width: 65 }, defaults);
    };
    expect(check).toThrow(ValidationError);
    try {
      check();
    } catch (error) {
      expect((error as ValidationError).issues.map((issue) => issue.field)).toEqual([
        '--steps 0',
        '--ar 9:0',
        'width',
      ]);
    }
  });

  it('refuses a size over the bot’s pixel limit', () => {
    expect(() => {
      checkImagineInput({ prompt: 'a cat', width: 1024, height: 1024 }, defaults);
    }).toThrow(/width x height must be at most 262144 pixels/);
  });
});

describe("Discord's failure modes", () => {
  const failure = (status: number, code: number) =>
    new DiscordAPIError(
      { code, message: 'x' },
      code,
      status,
      'PATCH',
      '/webhooks/1/t/messages/@original',
      {},
    );

  it('tells a dead token, an answered interaction and a lost channel apart', () => {
    expect(isDeadReply(failure(401, 50027))).toBe(true);
    expect(isDeadReply(failure(404, 10015))).toBe(true);
    expect(isDeadReply(failure(500, 0))).toBe(false);
    expect(isAlreadyAnswered(failure(400, 40060))).toBe(true);
    expect(isAlreadyAnswered(failure(404, 10062))).toBe(true);
    expect(isAlreadyAnswered(failure(401, 50027))).toBe(false);
    expect(isPermanentDiscordFailure(failure(403, 50013))).toBe(true);
    expect(isPermanentDiscordFailure(failure(429, 0))).toBe(false);
  });
});
