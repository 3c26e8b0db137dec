/** Reading what a button refers to: the job, its stored result and one of its images. */
import type { RepliableInteraction } from 'discord.js';
import {
  isGenerationJob,
  type GenerationJob,
  type Job,
  type JobResult,
  type JobStateRecord,
} from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
import { nsfwAllowedHere, type PolicyContext } from '../requests/policy.js';
import { requestContext } from '../requests/request-job.js';
import type { BotContext } from '../service/context.js';

export function expired(): RequestRefusedError {
  return new RequestRefusedError(
    'result-unavailable',
    'This picture has expired (results are kept for a limited time); run /imagine again.',
  );
}

export async function jobState(ctx: BotContext, jobId: string): Promise<JobStateRecord> {
  const state = await ctx.jobs.state(jobId);
  if (state === null) throw expired();
  return state;
}

/** The job and its result, for buttons under a finished job. */
export async function finishedJob(ctx: BotContext, jobId: string): Promise<{ job: Job; result: JobResult }> {
  const [state, outcome] = await Promise.all([jobState(ctx, jobId), ctx.jobs.findOutcome(jobId)]);
  if (outcome === null) {
    if (state.status.state === 'completed') throw expired();
    throw new RequestRefusedError('result-unavailable', 'This job has no pictures yet.');
  }
  if (outcome.type === 'failure') {
    throw new RequestRefusedError('result-unavailable', 'This job failed, so it has no pictures.');
  }
  return { job: state.job, result: outcome };
}

export function flaggedNotAllowed(): RequestRefusedError {
  return new RequestRefusedError(
    'nsfw-not-allowed',
    'This picture was flagged by the safety filter: its buttons work only in age-restricted channels of a server that allows such pictures.',
  );
}

/**
 * The image a U or V button names. A flagged image the worker replaced has nothing to work from; one
 * that came back intact may be used only where the same job would be allowed now.
 */
export function chosenImage(job: Job, result: JobResult, index: number, context: PolicyContext) {
  const image = result.images[index];
  if (image === undefined) {
    throw new RequestRefusedError('result-unavailable', `This result has no image ${index + 1}.`);
  }
  if (image.nsfw) {
    if (job.nsfw !== 'allow') {
      throw new RequestRefusedError(
        'image-withheld',
        `Image ${index + 1} was withheld by the safety filter.`,
      );
    }
    if (!nsfwAllowedHere(context)) throw flaggedNotAllowed();
  }
  return image;
}

/**
 * What a button under a finished result works from: the job, its result, the presser's request
 * context and the image at `index` (checked by chosenImage).
 */
export async function pressedImage(
  ctx: BotContext,
  interaction: RepliableInteraction,
  jobId: string,
  index: number,
): Promise<{ job: Job; result: JobResult; context: PolicyContext; image: ReturnType<typeof chosenImage> }> {
  const [{ job, result }, context] = await Promise.all([
    finishedJob(ctx, jobId),
    requestContext(ctx, interaction),
  ]);
  return { job, result, context, image: chosenImage(job, result, index, context) };
}

/** Upscale chains are short; this bounds the walk back to the drawing job. */
const MAX_CHAIN = 16;

/**
 * The job that drew a picture, found by following the sources of the jobs `stepsOver` says were
 * made from it (upscales of it, say), so a button reuses that job's model, prompt and settings.
 */
export async function drawingJobBehind(
  ctx: BotContext,
  job: Job,
  stepsOver: (job: Job) => boolean,
): Promise<GenerationJob> {
  let current = job;
  for (let hop = 0; hop < MAX_CHAIN && stepsOver(current); hop += 1) {
    const sourceJobId = current.source?.jobId;
    if (sourceJobId === undefined) break;
    current = (await jobState(ctx, sourceJobId)).job;
  }
  if (!isGenerationJob(current) || stepsOver(current)) {
    throw new RequestRefusedError('result-unavailable', 'The picture this upscale came from has expired.');
  }
  return current;
}
