/**
 * The buttons under results and pending jobs. Everything a click needs is in its custom_id (action,
 * job id, image index) and in NATS (job state, stored outcome, images), so buttons work on any
 * replica and after a restart.
 */
import { PermissionFlagsBits, type ButtonInteraction } from 'discord.js';
import {
  LIMITS,
  isTerminalStatus,
  type GenerationJob,
  type JobResult,
  type JobStateRecord,
} from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
import { singleImageView } from '../delivery/views.js';
import { DEFAULT_ATTACHMENT_LIMIT_BYTES } from '../render/fit.js';
import type { ButtonAction } from '../render/custom-id.js';
import type { BotContext } from '../service/context.js';
import { editOptions, InteractionReply, tokenExpiry } from '../service/discord.js';
import { answerPrivately, deferButton, deferPublicly } from './respond.js';
import { randomSeed, submitJob } from './submit.js';

function expired(): RequestRefusedError {
  return new RequestRefusedError(
    'result-unavailable',
    'This picture has expired (results are kept for a limited time); run /imagine again.',
  );
}

async function jobState(ctx: BotContext, jobId: string): Promise<JobStateRecord> {
  const state = await ctx.jobs.state(jobId);
  if (state === null) throw expired();
  return state;
}

/** The job and its result, for buttons under a finished job. */
async function finishedJob(
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

function chosenImage(result: JobResult, index: number) {
  const image = result.images[index];
  if (image === undefined) {
    throw new RequestRefusedError('result-unavailable', `This result has no image ${index + 1}.`);
  }
  if (image.nsfw) {
    throw new RequestRefusedError('image-withheld', `Image ${index + 1} was withheld by the safety filter.`);
  }
  return image;
}

function canManageMessages(interaction: ButtonInteraction): boolean {
  return interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages) ?? false;
}

/** U: the image alone, at full size, with its own V, re-roll and delete buttons. */
async function upscale(ctx: BotContext, interaction: ButtonInteraction, jobId: string, index: number) {
  if (!(await deferPublicly(interaction))) return;
  const { job, result } = await finishedJob(ctx, jobId);
  const image = chosenImage(result, index);
  const bytes = Buffer.from(await ctx.jobs.readImage(image.image));
  const message = await singleImageView({
    job,
    result,
    index,
    image: bytes,
    userId: interaction.user.id,
    attachmentLimit: interaction.attachmentSizeLimit || DEFAULT_ATTACHMENT_LIMIT_BYTES,
  });
  await interaction.editReply(editOptions(message));
}

/** The settings of the guild the button is in (null in direct messages). */
function guildSettings(ctx: BotContext, interaction: ButtonInteraction) {
  return interaction.guildId === null ? Promise.resolve(null) : ctx.settings.get(interaction.guildId);
}

/** V: img2img from that image, as far from it as the guild's variation strength says. */
async function variation(ctx: BotContext, interaction: ButtonInteraction, jobId: string, index: number) {
  if (!(await deferPublicly(interaction))) return;
  const [{ job, result }, settings] = await Promise.all([
    finishedJob(ctx, jobId),
    guildSettings(ctx, interaction),
  ]);
  const image = chosenImage(result, index);
  const strength = settings?.variationStrength ?? ctx.config.limits.variationStrength;
  const count = Math.min(job.count, settings?.maxCount ?? LIMITS.count.max);
  await submitJob(ctx, interaction, settings, (id, requester) => ({
    ...ctx.jobs.buildJob({
      id,
      requester,
      prompt: job.prompt,
      negativePrompt: job.negativePrompt,
      // A job from before the syntax field meant its prompt literally.
      syntax: job.syntax ?? 'plain',
      model: job.model,
      seed: randomSeed(),
      steps: job.steps,
      guidance: job.guidance,
      width: job.width,
      height: job.height,
      scheduler: job.scheduler,
      rng: job.rng,
      count,
      source: image.image,
      strength,
    }),
    kind: 'variation',
    source: { image: image.image, index, jobId },
  }));
}

/** Re-roll: the same request with a new seed. */
async function reroll(ctx: BotContext, interaction: ButtonInteraction, jobId: string) {
  if (!(await deferPublicly(interaction))) return;
  const [state, settings] = await Promise.all([jobState(ctx, jobId), guildSettings(ctx, interaction)]);
  const job = state.job;
  await submitJob(ctx, interaction, settings, (id, requester) => {
    const built = ctx.jobs.buildJob({
      id,
      requester,
      prompt: job.prompt,
      negativePrompt: job.negativePrompt,
      // A job from before the syntax field meant its prompt literally.
      syntax: job.syntax ?? 'plain',
      model: job.model,
      seed: randomSeed(),
      steps: job.steps,
      guidance: job.guidance,
      width: job.width,
      height: job.height,
      scheduler: job.scheduler,
      rng: job.rng,
      count: job.count,
      ...(job.source === undefined ? {} : { source: job.source.image }),
      ...(job.strength === undefined ? {} : { strength: job.strength }),
    });
    return {
      ...built,
      kind: job.kind,
      ...(job.source === undefined ? {} : { source: job.source }),
      ...(job.variation === undefined ? {} : { variation: job.variation }),
    };
  });
}

/** Delete: the requester, whoever made this message, or a member who can manage messages. */
async function remove(ctx: BotContext, interaction: ButtonInteraction, jobId: string) {
  if (!(await deferButton(interaction))) return;
  const state = await ctx.jobs.state(jobId);
  const allowed = [state?.job.requester.userId, interaction.message.interactionMetadata?.user.id];
  if (!allowed.includes(interaction.user.id) && !canManageMessages(interaction)) {
    throw new RequestRefusedError(
      'not-permitted',
      'Only the person who asked for this picture, or members who can manage messages, can delete it.',
    );
  }
  await interaction.deleteReply();
  ctx.logger.info({ guildId: interaction.guildId, jobId, by: interaction.user.id }, 'result:deleted');
}

/** Cancel: the requester or a member who can manage messages. */
async function cancel(ctx: BotContext, interaction: ButtonInteraction, jobId: string) {
  if (!(await deferButton(interaction))) return;
  const state = await jobState(ctx, jobId);
  if (state.job.requester.userId !== interaction.user.id && !canManageMessages(interaction)) {
    throw new RequestRefusedError(
      'not-permitted',
      'Only the person who asked for this picture, or members who can manage messages, can cancel it.',
    );
  }
  if (isTerminalStatus(state.status)) {
    throw new RequestRefusedError('already-finished', 'This job has already finished.');
  }
  const after = await ctx.jobs.cancel(jobId, interaction.user.id);
  if (after?.status.state !== 'cancelled') {
    throw new RequestRefusedError('already-finished', 'This job finished before it could be cancelled.');
  }
  ctx.logger.info({ guildId: interaction.guildId, jobId, by: interaction.user.id }, 'job:cancelled');
  await ctx.delivery.cancelled(
    jobId,
    interaction.user.id,
    new InteractionReply(interaction, tokenExpiry(interaction), ctx.now),
  );
}

export async function handleButton(ctx: BotContext, interaction: ButtonInteraction, action: ButtonAction) {
  switch (action.type) {
    case 'upscale':
      await upscale(ctx, interaction, action.jobId, action.index);
      return;
    case 'variation':
      await variation(ctx, interaction, action.jobId, action.index);
      return;
    case 'reroll':
      await reroll(ctx, interaction, action.jobId);
      return;
    case 'delete':
      await remove(ctx, interaction, action.jobId);
      return;
    case 'cancel':
      await cancel(ctx, interaction, action.jobId);
      return;
  }
}

/** A button of ours whose custom_id cannot be read (hand-made, or from an incompatible version). */
export async function refuseMalformedButton(interaction: ButtonInteraction, reason: string): Promise<void> {
  await answerPrivately(interaction, `This button does not work any more (${reason}); run /imagine again.`);
}
