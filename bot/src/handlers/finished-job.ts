/** Reading what a button refers to: the job, its stored result and one of its images. */
import type { ButtonInteraction } from 'discord.js';
import type { GenerationJob, JobResult, JobStateRecord } from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
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
export async function finishedJob(
  ctx: BotContext,
  jobId: string,
): Promise<{ job: GenerationJob; result: JobResult }> {
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

export function chosenImage(result: JobResult, index: number) {
  const image = result.images[index];
  if (image === undefined) {
    throw new RequestRefusedError('result-unavailable', `This result has no image ${index + 1}.`);
  }
  if (image.nsfw) {
    throw new RequestRefusedError('image-withheld', `Image ${index + 1} was withheld by the safety filter.`);
  }
  return image;
}

/** The settings of the guild the button is in (null in direct messages). */
export function guildSettings(ctx: BotContext, interaction: ButtonInteraction) {
  return interaction.guildId === null ? Promise.resolve(null) : ctx.settings.get(interaction.guildId);
}
