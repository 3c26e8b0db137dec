import {
  cancelRequestSchema,
  createJobSchema,
  deadLetterSchema,
  decodeMessage,
  encodeMessage,
  guildSettingsSchema,
  jobFailureSchema,
  jobOutcomeSchema,
  jobResultSchema,
  jobSchema,
  jobStateRecordSchema,
  progressSchema,
  ProtocolError,
  ValidationError,
  validate,
  workerHeartbeatSchema,
} from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  asGenerationJob,
  exampleCancel,
  exampleDeadLetter,
  exampleFailure,
  exampleHeartbeat,
  exampleImageRef,
  exampleJob,
  exampleProgress,
  exampleResult,
  exampleSettings,
} from '../../helpers/messages.js';

const valid: [string, z.ZodType, unknown][] = [
  ['job', jobSchema, exampleJob()],
  [
    'img2img job',
    jobSchema,
    exampleJob({ kind: 'img2img', strength: 0.6, source: { image: exampleImageRef, index: 2 } }),
  ],
  ['seed variation job', jobSchema, exampleJob({ kind: 'variation', variation: { seed: 7, strength: 0.2 } })],
  [
    'upscale job (no prompt, steps or seed)',
    jobSchema,
    {
      v: 1,
      id: 'job-0002',
      kind: 'upscale',
      model: 'sd15',
      source: { image: exampleImageRef, index: 1, jobId: 'job-0001' },
      requester: exampleJob().requester,
      createdAt: 1,
    },
  ],
  [
    'CLI job (no guild)',
    jobSchema,
    exampleJob({ requester: { source: 'cli', guildId: null, channelId: null, userId: 'alice' } }),
  ],
  ['progress', progressSchema, exampleProgress()],
  ['result', jobResultSchema, exampleResult()],
  [
    'result from a worker that ran 520 wide before sizes had to be multiples of 64',
    jobResultSchema,
    exampleResult({
      images: [{ image: exampleImageRef, seed: 1, nsfw: false, watermarked: true, width: 520, height: 512 }],
    }),
  ],
  ['failure', jobFailureSchema, exampleFailure()],
  ['outcome (result)', jobOutcomeSchema, exampleResult()],
  ['outcome (failure)', jobOutcomeSchema, exampleFailure()],
  ['heartbeat', workerHeartbeatSchema, exampleHeartbeat()],
  ['cancel', cancelRequestSchema, exampleCancel()],
  ['dead letter', deadLetterSchema, exampleDeadLetter()],
  ['settings', guildSettingsSchema, exampleSettings()],
  [
    'job state (progress)',
    jobStateRecordSchema,
    {
      v: 1,
      job: exampleJob(),
      status: { state: 'progress', workerId: 'gpu-1', step: 2, total: 30 },
      updatedAt: 1,
    },
  ],
  [
    'job state (completed)',
    jobStateRecordSchema,
    {
      v: 1,
      job: exampleJob(),
      status: { state: 'completed', workerId: 'gpu-1', images: exampleResult().images, completedAt: 2 },
      updatedAt: 2,
    },
  ],
];

describe('protocol schemas: valid messages', () => {
  it.each(valid)('%s round-trips through encode/decode unchanged', (_name, schema, message) => {
    const decoded = decodeMessage(schema, encodeMessage(schema, message));
    expect(decoded).toEqual(schema.parse(message));
    expect(decodeMessage(schema, encodeMessage(schema, decoded))).toEqual(decoded);
  });

  it('fills defaults a producer may omit', () => {
    const { negativePrompt: _n, rng: _r, ...minimal } = exampleJob();
    const job = asGenerationJob(validate(jobSchema, minimal));
    expect(job.negativePrompt).toBe('');
    expect(job.rng).toBe('numpy');
  });
});

type Case = [label: string, schema: z.ZodType, message: unknown, field: string, mentions: string];

const job = (overrides: Record<string, unknown>) => ({ ...exampleJob(), ...overrides });
const requester = (overrides: Record<string, unknown>) =>
  job({ requester: { ...exampleJob().requester, ...overrides } });

const badInputs: Case[] = [
  ['job: prompt too long', jobSchema, job({ prompt: 'x'.repeat(2001) }), 'prompt', '0..2000 characters'],
  ['job: prompt not text', jobSchema, job({ prompt: 42 }), 'prompt', 'characters'],
  ['job: missing prompt', jobSchema, job({ prompt: undefined }), 'prompt', 'required'],
  [
    'job: negative prompt too long',
    jobSchema,
    job({ negativePrompt: 'y'.repeat(2001) }),
    'negativePrompt',
    '0..2000',
  ],
  ['job: steps 0', jobSchema, job({ steps: 0 }), 'steps', '1..150'],
  ['job: steps 151', jobSchema, job({ steps: 151 }), 'steps', '1..150'],
  ['job: fractional steps', jobSchema, job({ steps: 20.5 }), 'steps', 'integer'],
  ['job: steps as text', jobSchema, job({ steps: '30' }), 'steps', '1..150'],
  ['job: guidance negative', jobSchema, job({ guidance: -1 }), 'guidance', '0..30'],
  ['job: guidance too high', jobSchema, job({ guidance: 31 }), 'guidance', '0..30'],
  ['job: guidance NaN', jobSchema, job({ guidance: Number.NaN }), 'guidance', '0..30'],
  ['job: width not multiple of 64', jobSchema, job({ width: 500 }), 'width', 'multiple of 64'],
  ['job: height not multiple of 64', jobSchema, job({ height: 513 }), 'height', 'multiple of 64'],
  [
    'job: 520 wide (a multiple of 8 the UNet cannot run)',
    jobSchema,
    job({ width: 520 }),
    'width',
    'multiple of 64',
  ],
  ['job: width too small', jobSchema, job({ width: 32 }), 'width', '64..2048'],
  ['job: height too large', jobSchema, job({ height: 4096 }), 'height', '64..2048'],
  ['job: too many pixels', jobSchema, job({ width: 2048, height: 1024 }), 'width', 'at most 1048576 pixels'],
  ['job: count 0', jobSchema, job({ count: 0 }), 'count', '1..4'],
  ['job: count 5', jobSchema, job({ count: 5 }), 'count', '1..4'],
  ['job: negative seed', jobSchema, job({ seed: -1 }), 'seed', '0..4294967295'],
  ['job: seed above 2^32-1', jobSchema, job({ seed: 2 ** 32 }), 'seed', '0..4294967295'],
  ['job: unknown scheduler', jobSchema, job({ scheduler: 'karras_magic' }), 'scheduler', 'pndm, ddim'],
  ['job: unknown kind', jobSchema, job({ kind: 'inpaint' }), 'kind', 'txt2img, img2img'],
  ['job: unknown rng', jobSchema, job({ rng: 'philox' }), 'rng', 'numpy, torch'],
  ['job: model id with a dot', jobSchema, job({ model: 'sd1.5' }), 'model', 'letters, digits'],
  ['job: id with spaces', jobSchema, job({ id: 'job 1' }), 'id', 'letters, digits'],
  [
    'job: strength above 1',
    jobSchema,
    job({ kind: 'img2img', strength: 1.5, source: { image: exampleImageRef } }),
    'strength',
    '0..1',
  ],
  [
    'job: img2img without source',
    jobSchema,
    job({ kind: 'img2img', strength: 0.5 }),
    'source',
    'required for img2img',
  ],
  [
    'job: source without strength',
    jobSchema,
    job({ kind: 'img2img', source: { image: exampleImageRef } }),
    'strength',
    'required',
  ],
  [
    'job: txt2img with a source',
    jobSchema,
    job({ strength: 0.5, source: { image: exampleImageRef } }),
    'source',
    'not allowed',
  ],
  [
    'job: upscale without source',
    jobSchema,
    { ...job({ kind: 'upscale' }), source: undefined },
    'source',
    'required for upscale',
  ],
  ['job: variation with nothing to vary', jobSchema, job({ kind: 'variation' }), 'source', 'variation'],
  [
    'job: variation strength above 1',
    jobSchema,
    job({ kind: 'variation', variation: { seed: 1, strength: 2 } }),
    'variation.strength',
    '0..1',
  ],
  [
    'job: source ref with bad content type',
    jobSchema,
    job({
      kind: 'img2img',
      strength: 0.5,
      source: { image: { ...exampleImageRef, contentType: 'image/gif' } },
    }),
    'source.image.contentType',
    'image/png',
  ],
  [
    'job: guild id not a snowflake',
    jobSchema,
    requester({ guildId: 'guild' }),
    'requester.guildId',
    'Discord id',
  ],
  [
    'job: unknown request source',
    jobSchema,
    requester({ source: 'slack' }),
    'requester.source',
    'discord, cli',
  ],
  ['job: empty user id', jobSchema, requester({ userId: '' }), 'requester.userId', 'characters'],
  [
    'job: token expiry not a timestamp',
    jobSchema,
    requester({ interactionTokenExpiresAt: 'soon' }),
    'requester.interactionTokenExpiresAt',
    'milliseconds',
  ],
  ['job: missing requester', jobSchema, job({ requester: undefined }), 'requester', 'required'],
  ['job: missing version', jobSchema, job({ v: undefined }), 'v', 'protocol version'],
  [
    'progress: step above total',
    progressSchema,
    exampleProgress({ step: 31 }),
    'step',
    'must not exceed total',
  ],
  ['progress: total 0', progressSchema, exampleProgress({ total: 0 }), 'total', '1..10000'],
  [
    'progress: missing worker',
    progressSchema,
    { ...exampleProgress(), workerId: undefined },
    'workerId',
    'required',
  ],
  [
    'progress: negative preview size',
    progressSchema,
    exampleProgress({ preview: { ...exampleImageRef, size: -1 } }),
    'preview.size',
    'non-negative',
  ],
  ['result: no images', jobResultSchema, exampleResult({ images: [] }), 'images', '1'],
  [
    'result: nsfw flag not boolean',
    jobResultSchema,
    exampleResult({ images: [{ ...exampleResult().images[0]!, nsfw: 'no' as unknown as boolean }] }),
    'images.0.nsfw',
    'true or false',
  ],
  [
    'result: image seed out of range',
    jobResultSchema,
    exampleResult({ images: [{ ...exampleResult().images[0]!, seed: -5 }] }),
    'images.0.seed',
    '0..4294967295',
  ],
  [
    'result: negative timing',
    jobResultSchema,
    exampleResult({ timings: { queuedMs: -1, totalMs: 1, stages: {} } }),
    'timings.queuedMs',
    'non-negative',
  ],
  [
    'result: negative stage timing',
    jobResultSchema,
    exampleResult({ timings: { queuedMs: 1, totalMs: 1, stages: { unet: -3 } } }),
    'timings.stages.unet',
    'non-negative',
  ],
  [
    'failure: unknown code',
    jobFailureSchema,
    exampleFailure({ code: 'OOPS' as never }),
    'code',
    'INVALID_INPUT',
  ],
  [
    'failure: retryable not boolean',
    jobFailureSchema,
    exampleFailure({ retryable: 'yes' as unknown as boolean }),
    'retryable',
    'true or false',
  ],
  ['failure: empty message', jobFailureSchema, exampleFailure({ message: '' }), 'message', 'characters'],
  ['outcome: unknown type', jobOutcomeSchema, { ...exampleResult(), type: 'partial' }, 'type', ''],
  ['heartbeat: no models', workerHeartbeatSchema, exampleHeartbeat({ models: [] }), 'models', ''],
  [
    'heartbeat: unknown provider',
    workerHeartbeatSchema,
    exampleHeartbeat({ provider: 'rocm' as never }),
    'provider',
    'cpu, webgpu, cuda, tensorrt',
  ],
  [
    'heartbeat: zero slots',
    workerHeartbeatSchema,
    exampleHeartbeat({ slots: { total: 0, free: 0 } }),
    'slots.total',
    '1..64',
  ],
  [
    'heartbeat: negative throughput',
    workerHeartbeatSchema,
    exampleHeartbeat({ throughput: { jobsPerMinute: -1, stepsPerSecond: 0 } }),
    'throughput.jobsPerMinute',
    'non-negative',
  ],
  ['cancel: bad job id', cancelRequestSchema, exampleCancel({ jobId: 'a.b' }), 'jobId', 'letters, digits'],
  [
    'dead letter: unknown code',
    deadLetterSchema,
    exampleDeadLetter({ code: 'NOPE' as never }),
    'code',
    'INVALID_INPUT',
  ],
  [
    'dead letter: negative deliveries',
    deadLetterSchema,
    exampleDeadLetter({ deliveries: -1 }),
    'deliveries',
    'non-negative',
  ],
  ['settings: max steps 0', guildSettingsSchema, exampleSettings({ maxSteps: 0 }), 'maxSteps', '1..150'],
  [
    'settings: unknown nsfw policy',
    guildSettingsSchema,
    exampleSettings({ nsfwPolicy: 'allow' as never }),
    'nsfwPolicy',
    'block',
  ],
  [
    'settings: channel not a snowflake',
    guildSettingsSchema,
    exampleSettings({ allowedChannels: ['general'] }),
    'allowedChannels.0',
    'Discord id',
  ],
  [
    'settings: empty banned word',
    guildSettingsSchema,
    exampleSettings({ bannedWords: [''] }),
    'bannedWords.0',
    'characters',
  ],
  [
    'settings: rate limit 0',
    guildSettingsSchema,
    exampleSettings({ rateLimits: { guildJobsPerMinute: 0 } }),
    'rateLimits.guildJobsPerMinute',
    '1..10000',
  ],
  [
    'settings: strong variation strength 2',
    guildSettingsSchema,
    exampleSettings({ strongStrength: 2 }),
    'strongStrength',
    '0..1',
  ],
  [
    'job state: unknown state',
    jobStateRecordSchema,
    { v: 1, job: exampleJob(), status: { state: 'paused' }, updatedAt: 1 },
    'status.state',
    '',
  ],
  [
    'job state: progress without worker',
    jobStateRecordSchema,
    { v: 1, job: exampleJob(), status: { state: 'progress', step: 1, total: 2 }, updatedAt: 1 },
    'status.workerId',
    'required',
  ],
  [
    'job state: bad embedded job',
    jobStateRecordSchema,
    { v: 1, job: job({ steps: 0 }), status: { state: 'queued' }, updatedAt: 1 },
    'job.steps',
    '1..150',
  ],
];

describe('protocol schemas: invalid messages', () => {
  it('has a broad table of bad inputs', () => {
    expect(badInputs.length).toBeGreaterThanOrEqual(40);
  });

  it.each(badInputs)('%s is rejected naming the field', (_label, schema, message, field, mentions) => {
    let caught: unknown;
    try {
      decodeMessage(schema, JSON.stringify(message));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
    const error = caught as ProtocolError;
    expect(error.code).toBe('INVALID_MESSAGE');
    const issue = error.issues.find((i) => i.field === field);
    expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined();
    expect(issue?.message).toContain(mentions);
    expect(error.message).toContain(`${field}: `);
  });

  it('validate() raises a ValidationError for user input', () => {
    expect(() => validate(jobSchema, job({ steps: 0 }))).toThrow(ValidationError);
    expect(() => validate(jobSchema, job({ steps: 0 }))).toThrow(
      'steps: must be an integer in 1..150 (got 0)',
    );
  });

  it('encodeMessage refuses to send an invalid message', () => {
    expect(() => encodeMessage(jobSchema, job({ count: 9 }))).toThrow(
      'count: must be an integer in 1..4 (got 9)',
    );
  });
});

describe('protocol versions', () => {
  it('refuses a newer version with UNSUPPORTED_VERSION and says to upgrade', () => {
    const future = JSON.stringify({ ...exampleJob(), v: 2 });
    expect(() => decodeMessage(jobSchema, future)).toThrow(
      /protocol version 2 is not supported.*upgrade this process/,
    );
    try {
      decodeMessage(jobSchema, future);
    } catch (error) {
      expect((error as ProtocolError).code).toBe('UNSUPPORTED_VERSION');
      expect((error as ProtocolError).issues[0]?.field).toBe('v');
    }
  });

  it('refuses an older version and blames the sender', () => {
    expect(() => decodeMessage(progressSchema, JSON.stringify({ ...exampleProgress(), v: 0 }))).toThrow(
      /upgrade the sender/,
    );
  });

  it('refuses what is not a JSON object', () => {
    expect(() => decodeMessage(jobSchema, 'not json')).toThrow('(root): is not valid JSON');
    expect(() => decodeMessage(jobSchema, '[1,2]')).toThrow('(root): must be a JSON object');
    expect(() => decodeMessage(jobSchema, 'null')).toThrow('(root): must be a JSON object');
  });
});

describe('configured pixel budget', () => {
  it('a lower SDBOT_MAX_PIXELS makes 512x512 too large', () => {
    const small = createJobSchema({ maxPixels: 256 * 256 });
    expect(() => validate(small, exampleJob())).toThrow(
      'width: width x height must be at most 65536 pixels (got 512x512 = 262144)',
    );
    expect(asGenerationJob(validate(small, exampleJob({ width: 256, height: 256 }))).width).toBe(256);
  });
});
