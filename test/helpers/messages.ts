/**
 * Valid example messages, one per schema. Tests derive bad inputs from these by changing a single
 * field, so each rejection is attributable to that field.
 */
import {
  isGenerationJob,
  jobSchema,
  type CancelRequest,
  type DeadLetter,
  type GenerationJob,
  type GenerationJobInput,
  type Job,
  type GuildSettings,
  type JobFailure,
  type JobResult,
  type Progress,
  type WorkerHeartbeat,
} from '@sdbot/shared';

const at = 1_764_000_000_000;

/** A factory of valid example messages: fresh `fields` each call, with whichever a test overrides. */
function example<T>(fields: () => T): (overrides?: Partial<T>) => T {
  return (overrides = {}) => ({ ...fields(), ...overrides });
}

/** What every message about the example job starts with: the protocol version and the job. */
const aboutTheJob = { v: 1, jobId: 'job-0001' } as const;

/** A message about the example job from the worker running it. */
const fromTheWorker = { ...aboutTheJob, workerId: 'gpu-1' } as const;

/** Any generation job's fields, so a test may set a field another kind would not allow. */
type ExampleJobFields = Omit<Extract<GenerationJobInput, { kind: 'variation' }>, 'kind'> & {
  kind: GenerationJob['kind'];
};

export function exampleJob(overrides: Partial<ExampleJobFields> = {}): GenerationJobInput {
  // Tests build invalid combinations on purpose; the schema, not this type, says which are valid.
  return {
    v: 1,
    id: 'job-0001',
    kind: 'txt2img',
    prompt: 'a lighthouse at dusk',
    negativePrompt: 'blurry',
    seed: 42,
    steps: 30,
    guidance: 7.5,
    width: 512,
    height: 512,
    scheduler: 'pndm',
    rng: 'numpy',
    model: 'sd15',
    count: 4,
    requester: {
      source: 'discord',
      guildId: '123456789012345678',
      channelId: '223456789012345678',
      userId: '323456789012345678',
      interactionId: '423456789012345678',
      interactionTokenExpiresAt: at + 15 * 60_000,
    },
    createdAt: at,
    ...overrides,
  } as GenerationJobInput;
}

/** The job as a generation job (prompt, steps, seeds); fails the test when it is not one. */
export function asGenerationJob(job: Job | undefined): GenerationJob {
  if (job === undefined || !isGenerationJob(job))
    throw new Error(`expected a generation job, got ${job?.kind}`);
  return job;
}

/** exampleJob, parsed: a valid generation job. */
export function exampleGenerationJob(overrides: Partial<ExampleJobFields> = {}): GenerationJob {
  return asGenerationJob(jobSchema.parse(exampleJob(overrides)));
}

export const exampleImageRef = {
  store: 'sdbot-images',
  name: 'job-0001/0.png',
  size: 1234,
  contentType: 'image/png',
} as const;

export const exampleProgress = example<Progress>(() => ({
  ...fromTheWorker,
  step: 3,
  total: 30,
  preview: exampleImageRef,
  at,
}));

export const exampleResult = example<JobResult>(() => ({
  ...fromTheWorker,
  type: 'result',
  model: 'sd15',
  images: [{ image: exampleImageRef, seed: 42, nsfw: false, watermarked: true, width: 512, height: 512 }],
  truncatedTokens: 0,
  timings: { queuedMs: 12, totalMs: 3400, stages: { unet: 3000, vae: 300 } },
  completedAt: at,
}));

export const exampleFailure = example<JobFailure>(() => ({
  ...fromTheWorker,
  type: 'failure',
  code: 'UNKNOWN_MODEL',
  retryable: false,
  message: 'model "sd99" is not loaded',
  failedAt: at,
}));

export const exampleHeartbeat = example<WorkerHeartbeat>(() => ({
  v: 1,
  workerId: 'gpu-1',
  hostname: 'gpu-box',
  version: '0.1.0',
  models: [{ id: 'sd15', name: 'Stable Diffusion 1.5', hash: 'abc123', safetyChecker: true }],
  provider: 'cuda',
  simulated: false,
  slots: { total: 1, free: 1 },
  throughput: { jobsPerMinute: 4, stepsPerSecond: 12.5 },
  startedAt: at,
  at,
}));

export const exampleCancel = example<CancelRequest>(() => ({
  ...aboutTheJob,
  requestedBy: '323456789012345678',
  at,
}));

export const exampleDeadLetter = example<DeadLetter>(() => ({
  ...aboutTheJob,
  model: 'sd15',
  code: 'INVALID_MESSAGE',
  reason: 'steps: must be an integer in 1..150 (got 0)',
  deliveries: 1,
  subject: 'sdbot.jobs.sd15',
  payload: Buffer.from('{}').toString('base64'),
  at,
}));

export const exampleSettings = example<GuildSettings>(() => ({
  v: 1,
  guildId: '123456789012345678',
  rateLimits: { guildJobsPerMinute: 5 },
  maxSteps: 50,
  bannedWords: ['gore'],
  allowedChannels: [],
  nsfwPolicy: 'block',
  allowedRoles: [],
  bannedUsers: [],
  channelDefaults: {},
  updatedAt: at,
  updatedBy: '323456789012345678',
}));
