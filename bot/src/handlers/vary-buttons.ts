/**
 * Vary (Subtle) and Vary (Strong) under an upscaled image: img2img from that image with the prompt
 * of the job that drew it and new seeds, four images (or the server's max-count) in a grid with the
 * usual buttons, at that job's generation size (the worker reduces the upscaled image to it). Subtle
 * and strong are the server's `subtle-strength` and `strong-strength`.
 */
import type { ButtonInteraction, ModalSubmitInteraction } from 'discord.js';
import { deriveJob, LIMITS, randomSeed, type GenerationJob, type Job } from '@sdbot/shared';
import { requestJob } from '../requests/request-job.js';
import type { BotContext } from '../service/context.js';
import { variationStrength } from '../settings/keys.js';
import { drawingJobBehind, pressedImage } from './finished-job.js';
import { remixEdit, remixTextOf, withEdit } from './remix.js';
import { deferPublicly } from './respond.js';

/** An upscale, or a Creative upscale (a hires img2img): what the walk back steps over. */
function isUpscaleStep(job: Job): boolean {
  return job.kind === 'upscale' || (job.kind === 'img2img' && job.hires !== undefined);
}

/** The job that drew the picture at its generation size, behind any upscales of it. */
export async function drawingJob(ctx: BotContext, job: Job): Promise<GenerationJob> {
  return drawingJobBehind(ctx, job, isUpscaleStep);
}

export async function varyUpscaled(
  ctx: BotContext,
  interaction: ButtonInteraction | ModalSubmitInteraction,
  jobId: string,
  kind: 'subtle' | 'strong',
): Promise<void> {
  // From the remix form: the edited prompt and flags, refused at once as /imagine refuses them.
  const text = interaction.isModalSubmit() ? remixTextOf(ctx, interaction) : undefined;
  if (!(await deferPublicly(interaction))) return;
  const { job, context, image } = await pressedImage(ctx, interaction, jobId, 0);
  const drawing = await drawingJob(ctx, job);
  const settings = context.settings;
  const notes: string[] = [];
  const edit = text === undefined ? undefined : remixEdit(ctx, text, context, notes, true);
  const draft = deriveJob(edit === undefined ? drawing : withEdit(drawing, edit), {
    type: 'variation',
    source: { image: image.image, index: job.source?.index ?? 0, jobId },
    strength: variationStrength(settings, kind),
    seed: edit?.seed ?? randomSeed(),
    count: edit?.changes.count ?? Math.min(LIMITS.count.max, settings?.maxCount ?? LIMITS.count.max),
  });
  await requestJob(ctx, interaction, draft, context, notes);
}
