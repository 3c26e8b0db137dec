/**
 * Remix: Re-roll, V1-V4 and Vary open a form with the job's prompt and flags when the member's remix
 * preference is on (the Remix button under an upscaled image always does); the edited text is read
 * exactly as /imagine reads its prompt (flags, banned words, limits) and the job derives from the
 * original with the edit applied.
 */
import {
  LabelBuilder,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  type ButtonInteraction,
  type ModalSubmitInteraction,
} from 'discord.js';
import {
  deriveJob,
  isGenerationJob,
  type GenerationJob,
  type GenerationParams,
  type JobDraft,
} from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
import { buildJobRequest, checkImagineInput } from '../prompt/job-request.js';
import { refuseChannel, type PolicyContext } from '../requests/policy.js';
import { requestContext } from '../requests/request-job.js';
import { refuseMember } from '../settings/access.js';
import {
  encodeRemixModalId,
  parseRemixModalId,
  REMIX_MODAL_PREFIX,
  REMIX_TEXT_FIELD,
  REMIX_TEXT_MAX_CHARS,
  remixText,
  type RemixAction,
} from '../remix/form.js';
import type { BotContext } from '../service/context.js';
import { jobState } from './finished-job.js';
import { drawingJob } from './vary-buttons.js';

/** What an edit changes in the job it derives from, and the seed (typed, or new). */
export interface RemixEdit {
  changes: Partial<GenerationParams>;
  model: string;
  seed: number;
}

/** The job with the edit's prompt, settings and model; the seed is the deriving caller's. */
export function withEdit(job: GenerationJob, edit: RemixEdit): JobDraft {
  return deriveJob({ ...job, model: edit.model }, { type: 'remix', changes: edit.changes, seed: edit.seed });
}

/** Whether the member wants the form before Re-roll, V and Vary run. */
export async function remixWanted(ctx: BotContext, interaction: ButtonInteraction): Promise<boolean> {
  return (await ctx.preferences.get(interaction.user.id)).remix;
}

const TITLES: Record<RemixAction['type'], string> = {
  reroll: 'Remix: re-roll',
  variation: 'Remix: variations',
  'vary-subtle': 'Remix: Vary (Subtle)',
  'vary-strong': 'Remix: Vary (Strong)',
};

/** The job whose prompt and settings the form shows: the drawing behind an upscale for Vary. */
async function editedJob(ctx: BotContext, action: RemixAction): Promise<GenerationJob> {
  const { job } = await jobState(ctx, action.jobId);
  if (action.type === 'vary-subtle' || action.type === 'vary-strong') return drawingJob(ctx, job);
  if (!isGenerationJob(job)) {
    throw new RequestRefusedError('result-unavailable', 'An upscaled picture has no prompt to remix.');
  }
  return job;
}

/** Opens the form; it must be the first answer to the click, within Discord's 3 s. */
export async function openRemixModal(
  ctx: BotContext,
  interaction: ButtonInteraction,
  action: RemixAction,
): Promise<void> {
  const [job, context] = await Promise.all([editedJob(ctx, action), requestContext(ctx, interaction)]);
  // Who and where are known now: a member who may not create images here is told before typing.
  refuseMember(context.settings, { userId: context.userId, roleIds: context.roles });
  refuseChannel(context.settings, context.channel);
  const input = new TextInputBuilder()
    .setCustomId(REMIX_TEXT_FIELD)
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(true)
    .setMaxLength(REMIX_TEXT_MAX_CHARS)
    .setValue(remixText(job));
  const modal = new ModalBuilder()
    .setCustomId(encodeRemixModalId(action))
    .setTitle(TITLES[action.type])
    .addLabelComponents(
      new LabelBuilder()
        .setLabel('Prompt and flags')
        .setDescription('Edit the prompt or flags (--ar, --steps, --no ...); add --seed to keep one')
        .setTextInputComponent(input),
    );
  await interaction.showModal(modal);
}

export function isRemixModal(interaction: ModalSubmitInteraction): boolean {
  return interaction.customId.startsWith(REMIX_MODAL_PREFIX);
}

/** The form's action, or a refusal naming what is wrong with a hand-made custom_id. */
export function remixActionOf(interaction: ModalSubmitInteraction): RemixAction {
  const parsed = parseRemixModalId(interaction.customId);
  if (!parsed.ok) {
    throw new RequestRefusedError(
      'not-permitted',
      `This form does not work any more (${parsed.reason}); run /imagine again.`,
    );
  }
  return parsed.action;
}

/** The submitted text, refused before the interaction is deferred when /imagine would refuse it. */
export function remixTextOf(ctx: BotContext, interaction: ModalSubmitInteraction): string {
  const text = interaction.fields.getTextInputValue(REMIX_TEXT_FIELD);
  checkImagineInput({ prompt: text }, ctx.jobDefaults);
  return text;
}

/**
 * The edit as /imagine would build it here (channel, banned words, models, caps), reduced to what
 * changes in the derived job; `keepSize` for variations, whose size is the source image's job's.
 */
export function remixEdit(
  ctx: BotContext,
  text: string,
  context: PolicyContext,
  notes: string[],
  keepSize: boolean,
): RemixEdit {
  const draft = buildJobRequest({ prompt: text }, { ...context, defaults: ctx.jobDefaults, notes });
  const { prompt, negativePrompt, steps, guidance, scheduler, model, count, width, height } = draft;
  const changes: Partial<GenerationParams> = { prompt, negativePrompt, steps, guidance, scheduler, count };
  return { changes: keepSize ? changes : { ...changes, width, height }, model, seed: draft.seed };
}
