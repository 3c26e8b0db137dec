/**
 * Jobs for tests that submit through a JobsClient: a few named fields, the rest from the client's
 * configured defaults, as `sdbot imagine` would fill them.
 */
import {
  completeJob,
  newJobId,
  PROTOCOL_VERSION,
  randomSeed,
  type GenerationJob,
  type GenerationParams,
  type JobDraftInput,
  type JobsClient,
  type ObjectRef,
  type Requester,
} from '@sdbot/shared';

export interface TestJobRequest extends Partial<Omit<GenerationParams, 'strength'>> {
  prompt: string;
  model: string;
  requester: Requester;
  id?: string;
  /** img2img: the uploaded source image and how far to move from it. */
  source?: ObjectRef;
  strength?: number;
}

export function testJob(client: JobsClient, request: TestJobRequest): GenerationJob {
  const { id, requester, source, strength, ...given } = request;
  const defaults = client.defaults;
  const params: Omit<Extract<JobDraftInput, { kind: 'txt2img' }>, 'kind'> = {
    v: PROTOCOL_VERSION,
    negativePrompt: '',
    seed: randomSeed(),
    steps: defaults.steps,
    guidance: defaults.guidance,
    width: defaults.width,
    height: defaults.height,
    scheduler: defaults.scheduler,
    rng: defaults.rng,
    count: 1,
    ...given,
  };
  const draft =
    source === undefined
      ? { ...params, kind: 'txt2img' as const, ...(strength === undefined ? {} : { strength }) }
      : {
          ...params,
          kind: 'img2img' as const,
          source: { image: source },
          strength: strength ?? defaults.strength,
        };
  const identity = { id: id ?? newJobId(requester.source), requester, createdAt: Date.now() };
  const job = client.checkJob(completeJob(draft, identity));
  if (job.kind === 'upscale') throw new TypeError('testJob builds generation jobs only');
  return job;
}
