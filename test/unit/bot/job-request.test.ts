import {
  createJobSchema,
  loadConfig,
  ValidationError,
  type GuildSettings,
  type ValidationIssue,
} from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { RequestRefusedError, userMessage } from '../../../bot/src/errors.js';
import { findBannedWord } from '../../../bot/src/prompt/banned-words.js';
import {
  buildJobRequest,
  jobDefaultsFromConfig,
  type ImagineOptions,
  type JobDefaults,
  type JobRequestContext,
} from '../../../bot/src/prompt/job-request.js';
import { ASPECT_CHOICES, sizeForAspect } from '../../../bot/src/prompt/size.js';
import { asGenerationJob, exampleSettings } from '../../helpers/messages.js';

const defaults: JobDefaults = {
  model: 'sd15',
  scheduler: 'pndm',
  steps: 30,
  guidance: 7.5,
  count: 4,
  baseSize: 512,
  maxPixels: 1024 * 1024,
};
const channel = { id: '223456789012345678' };

function settings(overrides: Partial<GuildSettings> = {}): GuildSettings {
  return exampleSettings({ maxSteps: undefined, bannedWords: [], ...overrides });
}

function context(overrides: Partial<JobRequestContext> = {}): JobRequestContext {
  return { defaults, settings: settings(), channel, randomSeed: () => 1234, ...overrides };
}

function build(options: ImagineOptions | string, overrides: Partial<JobRequestContext> = {}) {
  return buildJobRequest(typeof options === 'string' ? { prompt: options } : options, context(overrides));
}

function issuesOf(
  options: ImagineOptions | string,
  overrides: Partial<JobRequestContext> = {},
): ValidationIssue[] {
  try {
    build(options, overrides);
  } catch (error) {
    if (error instanceof ValidationError) return [...error.issues];
    throw error;
  }
  throw new Error('the request was accepted');
}

describe('aspect ratio to size', () => {
  it('gives multiples of 64 near 512 x 512 with the asked ratio', () => {
    const sizes = Object.fromEntries(
      ASPECT_CHOICES.map((choice) => {
        const [w, h] = choice.split(':').map(Number);
        const size = sizeForAspect(
          { width: w ?? 1, height: h ?? 1 },
          { baseSize: 512, maxPixels: 1024 * 1024 },
        );
        return [choice, `${size.width}x${size.height}`];
      }),
    );
    expect(sizes).toEqual({
      '1:1': '512x512',
      '3:2': '576x384',
      '2:3': '384x576',
      '16:9': '704x384',
      '9:16': '384x704',
      '4:5': '448x576',
    });
  });

  it('aims for the base area of larger models and stays inside a small pixel budget', () => {
    expect(sizeForAspect({ width: 16, height: 9 }, { baseSize: 768, maxPixels: 1024 * 1024 })).toEqual({
      width: 1024,
      height: 576,
    });
    const small = sizeForAspect({ width: 16, height: 9 }, { baseSize: 768, maxPixels: 256 * 256 });
    expect(small.width * small.height).toBeLessThanOrEqual(256 * 256);
    expect(small.width % 64).toBe(0);
    expect(small.width).toBeGreaterThan(small.height);
  });
});

describe('job request', () => {
  it('builds a request that the job schema accepts once the handler adds id, requester and time', () => {
    const request = build('a lighthouse at dusk --ar 16:9 --no fog');
    expect(request).toEqual({
      v: 1,
      kind: 'txt2img',
      prompt: 'a lighthouse at dusk',
      negativePrompt: 'fog',
      syntax: 'a1111',
      seed: 1234,
      steps: 30,
      guidance: 7.5,
      width: 704,
      height: 384,
      scheduler: 'pndm',
      rng: 'numpy',
      model: 'sd15',
      count: 4,
    });
    const job = createJobSchema({ maxPixels: defaults.maxPixels }).parse({
      ...request,
      id: 'job-1',
      requester: { source: 'discord', guildId: '123456789012345678', channelId: channel.id, userId: '42' },
      createdAt: 1,
    });
    expect(asGenerationJob(job).width).toBe(704);
  });

  it('takes its defaults from the configuration', () => {
    const config = loadConfig({ env: { SDBOT_DEFAULT_STEPS: '25', SDBOT_DEFAULT_MODEL: 'sd15' } });
    expect(jobDefaultsFromConfig(config)).toEqual({
      model: 'sd15',
      scheduler: 'pndm',
      steps: 25,
      guidance: 7.5,
      count: 4,
      baseSize: 512,
      maxPixels: 1024 * 1024,
    });
    expect(jobDefaultsFromConfig(loadConfig({ env: {} }), 768)).not.toHaveProperty('model');
  });

  it('draws a random seed in the 32-bit range when none is given', () => {
    const { randomSeed: _fixed, ...withoutSeed } = context();
    const seeds = Array.from({ length: 20 }, () => buildJobRequest({ prompt: 'cat' }, withoutSeed).seed);
    for (const seed of seeds) expect(seed).toBeGreaterThanOrEqual(0);
    for (const seed of seeds) expect(seed).toBeLessThanOrEqual(2 ** 32 - 1);
    expect(new Set(seeds).size).toBeGreaterThan(1);
  });

  it('lets flags in the text win over slash options, and appends --no to negative', () => {
    const request = build({
      prompt: 'cat --steps 40 --ar 2:3 --no blurry',
      steps: 20,
      aspect: '16:9',
      negative: 'ugly',
      guidance: 5,
      scheduler: 'euler_a',
      count: 1,
    });
    expect(request).toMatchObject({
      steps: 40,
      width: 384,
      height: 576,
      negativePrompt: 'ugly, blurry',
      guidance: 5,
      scheduler: 'euler_a',
      count: 1,
    });
  });

  it('takes the guild defaults before the bot defaults', () => {
    const request = build('cat', { settings: settings({ defaultModel: 'sd21', defaultScheduler: 'ddim' }) });
    expect(request).toMatchObject({ model: 'sd21', scheduler: 'ddim' });
  });

  it('derives the missing side from the aspect ratio, or uses the base size without one', () => {
    expect(build('cat --w 768 --ar 16:9')).toMatchObject({ width: 768, height: 432 });
    expect(build({ prompt: 'cat', height: 768, aspect: '2:3' })).toMatchObject({ width: 512, height: 768 });
    expect(build('cat --w 768')).toMatchObject({ width: 768, height: 512 });
  });

  it('lowers defaults to guild limits but refuses explicit values above them', () => {
    const strict = { settings: settings({ maxSteps: 20, maxCount: 2, maxPixels: 512 * 512 }) };
    expect(build('cat --ar 16:9', strict)).toMatchObject({ steps: 20, count: 2, width: 640, height: 384 });
    expect(issuesOf({ prompt: 'cat --steps 40 --count 3 --w 768 --h 768' }, strict)).toEqual([
      {
        field: '--w 768 --h 768',
        message: 'width x height must be at most 262144 pixels on this server (got 768x768 = 589824)',
      },
      { field: '--steps 40', message: 'must be at most 20 on this server' },
      { field: '--count 3', message: 'must be at most 2 on this server' },
    ]);
    expect(issuesOf({ prompt: 'cat', steps: 40, count: 3 }, strict)).toEqual([
      { field: 'steps', message: 'must be at most 20 on this server (got 40)' },
      { field: 'count', message: 'must be at most 2 on this server (got 3)' },
    ]);
  });

  const refusedOptions: [string, ImagineOptions, ValidationIssue[]][] = [
    [
      'steps out of range',
      { prompt: 'cat', steps: 500 },
      [{ field: 'steps', message: 'must be an integer in 1..150 (got 500)' }],
    ],
    [
      'width not a multiple of 8',
      { prompt: 'cat', width: 100 },
      [{ field: 'width', message: 'must be a multiple of 8 in 64..2048 (got 100)' }],
    ],
    [
      'guidance too high',
      { prompt: 'cat', guidance: 31 },
      [{ field: 'guidance', message: 'must be a number in 0..30 (got 31)' }],
    ],
    [
      'an aspect outside the choices',
      { prompt: 'cat', aspect: '7:3' },
      [{ field: 'aspect', message: 'must be one of 1:1, 3:2, 2:3, 16:9, 9:16, 4:5 (got "7:3")' }],
    ],
    [
      'an unknown scheduler',
      { prompt: 'cat', scheduler: 'ddpm' },
      [{ field: 'scheduler', message: 'is not a scheduler this bot knows (got "ddpm")' }],
    ],
    [
      'an aspect with both sides',
      { prompt: 'cat --ar 16:9', width: 512, height: 512 },
      [
        {
          field: '--ar 16:9',
          message: 'conflicts with width and height; give an aspect ratio or a size, not both',
        },
      ],
    ],
    [
      'a size over the bot limit',
      { prompt: 'cat --w 2048 --h 1024' },
      [
        {
          field: '--w 2048 --h 1024',
          message: 'width x height must be at most 1048576 pixels (got 2048x1024 = 2097152)',
        },
      ],
    ],
    [
      'a prompt too long without its flags',
      { prompt: `${'a'.repeat(2001)} --seed 1` },
      [{ field: 'prompt', message: 'must be at most 2000 characters without its flags (got 2001)' }],
    ],
    [
      'a negative too long with --no',
      { prompt: `cat --no ${'b'.repeat(1000)}`, negative: 'c'.repeat(1000) },
      [
        {
          field: `negative and --no ${'b'.repeat(1000)}`,
          message: 'must be at most 2000 characters together (got 2002)',
        },
      ],
    ],
    [
      'a bad flag and a bad option together',
      { prompt: 'cat --seed x', steps: 0 },
      [
        { field: '--seed x', message: 'must be an integer in 0..4294967295' },
        { field: 'steps', message: 'must be an integer in 1..150 (got 0)' },
      ],
    ],
  ];

  it.each(refusedOptions)('refuses %s', (_name, options, expected) => {
    expect(issuesOf(options)).toEqual(expected);
  });

  it('checks the model against the ones served', () => {
    const { model: _model, ...defaultsWithoutModel } = defaults;
    expect(issuesOf('cat --model sd99', { models: ['sd15', 'tiny'] })).toEqual([
      { field: '--model sd99', message: 'is not served right now; available: sd15, tiny' },
    ]);
    expect(issuesOf('cat', { models: [] })).toEqual([
      { field: 'model', message: 'no worker is serving any model right now; try again later' },
    ]);
    expect(build('cat', { models: ['tiny'], defaults: defaultsWithoutModel }).model).toBe('tiny');
    expect(issuesOf('cat', { models: ['tiny'], settings: settings({ defaultModel: 'sd21' }) })).toEqual([
      {
        field: "this server's default model",
        message: 'is not served right now; available: tiny (got "sd21")',
      },
    ]);
  });

  it('refuses prompts with a banned word, naming it, and ignores it in the negative prompt', () => {
    const guild = { settings: settings({ bannedWords: ['gore', 'blood bath'] }) };
    expect(() => build('lots of GORE, please', guild)).toThrow(RequestRefusedError);
    expect(() => build('lots of GORE, please', guild)).toThrow(
      'This server does not allow "gore" in prompts.',
    );
    expect(() => build('a  Blood\nBath scene', guild)).toThrow('"blood bath"');
    expect(build('a gorgeous gorge --no gore', guild).negativePrompt).toBe('gore');
  });

  it('matches banned words as whole words, ignoring case and full-width forms', () => {
    expect(findBannedWord('ＧＯＲＥ', ['gore'])).toBe('gore');
    expect(findBannedWord('#gore!', ['gore'])).toBe('gore');
    expect(findBannedWord('gorey', ['gore'])).toBeUndefined();
    expect(findBannedWord('a.b', ['a.b'])).toBe('a.b');
    expect(findBannedWord('axb', ['a.b'])).toBeUndefined();
  });

  it('refuses channels outside the allowed list, accepting threads of allowed channels and DMs', () => {
    const allowed = settings({ allowedChannels: ['523456789012345678', '623456789012345678'] });
    let refused: unknown;
    try {
      build('cat', { settings: allowed });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(RequestRefusedError);
    expect((refused as RequestRefusedError).reason).toBe('channel-not-allowed');
    expect(userMessage(refused)).toBe(
      'This server allows /imagine only in <#523456789012345678>, <#623456789012345678>.',
    );
    expect(build('cat', { settings: allowed, channel: { id: '623456789012345678' } }).prompt).toBe('cat');
    expect(
      build('cat', {
        settings: allowed,
        channel: { id: '723456789012345678', parentId: '523456789012345678' },
      }).prompt,
    ).toBe('cat');
    expect(build('cat', { settings: null, channel: null }).prompt).toBe('cat');
  });

  it('renders several problems as a list for the ephemeral reply', () => {
    let caught: unknown;
    try {
      build('cat --ar 7:0 --steps 500');
    } catch (error) {
      caught = error;
    }
    expect(userMessage(caught)).toBe(
      '• --ar 7:0: aspect must be W:H with positive integers, e.g. 16:9\n• --steps 500: must be an integer in 1..150',
    );
  });
});

describe('default layers', () => {
  const member = { owner: 'your', scheduler: 'euler' as const, steps: 12, model: 'sdxl' };
  const server = { owner: "this server's", scheduler: 'ddim' as const, steps: 40, count: 2 };

  it('take the first layer that sets a field, before the bot and after what was typed', () => {
    const layers = [member, server];
    expect(build('a cat', { layers, models: ['sd15', 'sdxl'] })).toMatchObject({
      scheduler: 'euler',
      steps: 12,
      count: 2,
      guidance: 7.5,
      model: 'sdxl',
    });
    expect(build('a cat --steps 20 --scheduler lms', { layers, models: ['sd15', 'sdxl'] })).toMatchObject({
      scheduler: 'lms',
      steps: 20,
    });
  });

  it("are lowered to the server's caps like the bot's defaults, and named when refused", () => {
    const capped = settings({ maxSteps: 10 });
    expect(build('a cat', { layers: [member], settings: capped, models: ['sdxl'] }).steps).toBe(10);
    expect(issuesOf('a cat', { layers: [member], models: ['sd15'] })).toEqual([
      { field: 'your default model', message: 'is not served right now; available: sd15 (got "sdxl")' },
    ]);
  });

  it("default to the server's settings", () => {
    expect(build('a cat', { settings: settings({ defaultScheduler: 'heun' }) }).scheduler).toBe('heun');
  });
});
