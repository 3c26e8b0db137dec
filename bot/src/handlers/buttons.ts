/**
 * The buttons under results and pending jobs. Everything a click needs is in its custom_id (action,
 * job id, image index) and in NATS (job state, stored outcome, images), so buttons work on any
 * replica and after a restart.
 */
import { PermissionFlagsBits, type ButtonInteraction, type ModalSubmitInteraction } from 'discord.js';
import { LOG_EVENTS, deriveJob, isGenerationJob, isTerminalStatus, LIMITS, randomSeed } from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
import { flaggedIntact } from '../delivery/views.js';
import type { ButtonAction } from '../render/custom-id.js';
import { variationStrength } from '../settings/keys.js';
import type { BotContext } from '../service/context.js';
import { InteractionReply, tokenExpiry } from '../service/discord.js';
import { answerPrivately, deferButton, deferPublicly } from './respond.js';
import { nsfwAllowedHere } from '../requests/policy.js';
import { requestContext, requestJob } from '../requests/request-job.js';
import { flaggedNotAllowed, jobState, pressedImage } from './finished-job.js';
import { creativeUpscale, upscaleAgain, upscaleImage } from './upscale-buttons.js';
import { varyUpscaled } from './vary-buttons.js';
import { isRemixAction, type RemixAction } from '../remix/form.js';
import { openRemixModal, remixEdit, remixTextOf, remixWanted, withEdit } from './remix.js';

/** A click, or the submit of the remix form it opened (with the edited prompt and flags). */
type ActionInteraction = ButtonInteraction | ModalSubmitInteraction;

/** The remix form's text, checked as /imagine checks its prompt before anything is deferred. */
function editedText(ctx: BotContext, interaction: ActionInteraction): string | undefined {
  return interaction.isModalSubmit() ? remixTextOf(ctx, interaction) : undefined;
}

function canManageMessages(interaction: ButtonInteraction): boolean {
  return interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages) ?? false;
}

/** V: img2img from that image, as far from it as the guild's variation strength says. */
async function variation(ctx: BotContext, interaction: ActionInteraction, jobId: string, index: number) {
  const text = editedText(ctx, interaction);
  if (!(await deferPublicly(interaction))) return;
  const { job, context, image } = await pressedImage(ctx, interaction, jobId, index);
  if (!isGenerationJob(job)) {
    throw new RequestRefusedError('result-unavailable', 'An upscaled picture has no settings to vary.');
  }
  const settings = context.settings;
  const notes: string[] = [];
  const edit = text === undefined ? undefined : remixEdit(ctx, text, context, notes, true);
  const draft = deriveJob(edit === undefined ? job : withEdit(job, edit), {
    type: 'variation',
    source: { image: image.image, index, jobId },
    strength: variationStrength(settings, 'strong'),
    seed: edit?.seed ?? randomSeed(),
    count: edit?.changes.count ?? Math.min(job.count, settings?.maxCount ?? LIMITS.count.max),
  });
  await requestJob(ctx, interaction, draft, context, notes);
}

/** Re-roll: the same request with a new seed (from the remix form: edited, the seed if one is typed). */
async function reroll(ctx: BotContext, interaction: ActionInteraction, jobId: string) {
  const text = editedText(ctx, interaction);
  if (!(await deferPublicly(interaction))) return;
  const [state, context, outcome] = await Promise.all([
    jobState(ctx, jobId),
    requestContext(ctx, interaction),
    ctx.jobs.findOutcome(jobId),
  ]);
  const flagged = outcome?.type === 'result' && flaggedIntact(state.job, outcome);
  if (flagged && !nsfwAllowedHere(context)) throw flaggedNotAllowed();
  if (text === undefined) {
    await requestJob(ctx, interaction, deriveJob(state.job, { type: 'reroll', seed: randomSeed() }), context);
    return;
  }
  if (!isGenerationJob(state.job)) {
    throw new RequestRefusedError('result-unavailable', 'An upscaled picture has no prompt to remix.');
  }
  const notes: string[] = [];
  const edit = remixEdit(ctx, text, context, notes, false);
  await requestJob(ctx, interaction, withEdit(state.job, edit), context, notes);
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
  ctx.logger.info(
    { guildId: interaction.guildId, jobId, by: interaction.user.id },
    LOG_EVENTS.result.deleted,
  );
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
  ctx.logger.info({ guildId: interaction.guildId, jobId, by: interaction.user.id }, LOG_EVENTS.job.cancelled);
  await ctx.delivery.cancelled(
    jobId,
    interaction.user.id,
    new InteractionReply(interaction, tokenExpiry(interaction), ctx.now),
  );
}

/** Re-roll, V and Vary: at once, or from the remix form's submit with its edit. */
export async function runRemixable(ctx: BotContext, interaction: ActionInteraction, action: RemixAction) {
  switch (action.type) {
    case 'vary-subtle':
      return varyUpscaled(ctx, interaction, action.jobId, 'subtle');
    case 'vary-strong':
      return varyUpscaled(ctx, interaction, action.jobId, 'strong');
    case 'variation':
      return variation(ctx, interaction, action.jobId, action.index);
    case 'reroll':
      return reroll(ctx, interaction, action.jobId);
  }
}

export async function handleButton(ctx: BotContext, interaction: ButtonInteraction, action: ButtonAction) {
  if (isRemixAction(action)) {
    if (await remixWanted(ctx, interaction)) return openRemixModal(ctx, interaction, action);
    return runRemixable(ctx, interaction, action);
  }
  switch (action.type) {
    case 'upscale':
      await upscaleImage(ctx, interaction, action.jobId, action.index);
      return;
    case 'upscale-again':
      await upscaleAgain(ctx, interaction, action.jobId);
      return;
    case 'creative':
      await creativeUpscale(ctx, interaction, action.jobId);
      return;
    case 'remix':
      // Under an upscaled image: the form always, and its submit makes strong variations.
      await openRemixModal(ctx, interaction, { type: 'vary-strong', jobId: action.jobId });
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
