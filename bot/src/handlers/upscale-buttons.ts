/**
 * U1-U4, Upscale again and Upscale (Creative). U and Upscale again derive an `upscale` job for a
 * super-resolution worker (the guild's factor, capped by its `upscale-max-pixels`); Creative derives
 * an img2img job with `hires` for the diffusion model that drew the picture, which enlarges it and
 * redraws it at the guild's `creative-strength` with the same prompt and seed (a hires fix), within
 * the pixel budget. All go through the one request path (policy, quotas, rate limits). Without an
 * upscaler online, U posts the image at its size and says so.
 */
import type { ButtonInteraction } from 'discord.js';
import { LIMITS, LOG_EVENTS, deriveJob, type GenerationJob, type Job, type ResultImage } from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
import { DEFAULT_ATTACHMENT_LIMIT_BYTES } from '../render/fit.js';
import type { PolicyContext } from '../requests/policy.js';
import { requestContext, requestJob } from '../requests/request-job.js';
import type { BotContext } from '../service/context.js';
import { editOptions } from '../service/discord.js';
import { pickUpscaler, upscaleSettings, upscaleTarget } from '../upscale/sizes.js';
import { notUpscaledView } from '../upscale/view.js';
import { chosenImage, drawingJobBehind, finishedJob, jobState, pressedImage } from './finished-job.js';
import { deferPublicly } from './respond.js';

interface UpscaleSource {
  /** The job the image came from. */
  job: Job;
  image: ResultImage;
  /** The grid image the chain started from, for titles. */
  index: number;
  jobId: string;
}

/** Sends an upscale of `source` to an online upscaler; refuses when none is online or at the cap. */
async function requestUpscale(
  ctx: BotContext,
  interaction: ButtonInteraction,
  context: PolicyContext,
  source: UpscaleSource,
): Promise<void> {
  const { factor, maxPixels } = upscaleSettings(context.settings);
  const size = upscaleTarget(source.image.width, source.image.height, factor, maxPixels);
  if (size === null) {
    throw new RequestRefusedError(
      'result-unavailable',
      `This image is already as large as upscales go on this server (${maxPixels} pixels).`,
    );
  }
  const upscaler = pickUpscaler(await ctx.jobs.servedUpscalers(), factor);
  if (upscaler === undefined) {
    throw new RequestRefusedError('result-unavailable', 'No upscaler is online right now; try again later.');
  }
  const draft = deriveJob(source.job, {
    type: 'upscale',
    source: { image: source.image.image, index: source.index, jobId: source.jobId },
    upscaler: upscaler.id,
    ...size,
  });
  await requestJob(ctx, interaction, draft, context);
}

/** U: the chosen image of a grid, upscaled; at its own size with a notice when no upscaler is online. */
export async function upscaleImage(
  ctx: BotContext,
  interaction: ButtonInteraction,
  jobId: string,
  index: number,
): Promise<void> {
  if (!(await deferPublicly(interaction))) return;
  const [{ job, result }, context, upscalers] = await Promise.all([
    finishedJob(ctx, jobId),
    requestContext(ctx, interaction),
    ctx.jobs.servedUpscalers(),
  ]);
  const image = chosenImage(job, result, index, context);
  if (upscalers.length === 0) {
    // Nothing is resized here: only the worker may produce images (it owns the watermark).
    const message = await notUpscaledView({
      job,
      result,
      index,
      image: Buffer.from(await ctx.jobs.readImage(image.image)),
      userId: interaction.user.id,
      attachmentLimit: interaction.attachmentSizeLimit || DEFAULT_ATTACHMENT_LIMIT_BYTES,
      width: image.width,
      height: image.height,
    });
    await interaction.editReply(editOptions(message));
    ctx.logger.info({ guildId: interaction.guildId, jobId }, LOG_EVENTS.upscale.unavailable);
    return;
  }
  await requestUpscale(ctx, interaction, context, { job, image, index, jobId });
}

/** Upscale again: the upscaled image, enlarged once more (up to the guild's cap). */
export async function upscaleAgain(
  ctx: BotContext,
  interaction: ButtonInteraction,
  jobId: string,
): Promise<void> {
  if (!(await deferPublicly(interaction))) return;
  const { job, context, image } = await pressedImage(ctx, interaction, jobId, 0);
  await requestUpscale(ctx, interaction, context, { job, image, index: job.source?.index ?? 0, jobId });
}

/** The job that drew the picture an upscale chain started from (its model, prompt and settings). */
async function drawingJob(ctx: BotContext, job: Job): Promise<GenerationJob> {
  return drawingJobBehind(ctx, job, (step) => step.kind === 'upscale');
}

/**
 * Upscale (Creative): the image this upscale started from, enlarged and redrawn at the guild's
 * creative strength by the model that drew it, at the larger size within the pixel budget.
 */
export async function creativeUpscale(
  ctx: BotContext,
  interaction: ButtonInteraction,
  jobId: string,
): Promise<void> {
  if (!(await deferPublicly(interaction))) return;
  const [state, context] = await Promise.all([jobState(ctx, jobId), requestContext(ctx, interaction)]);
  const upscaled = state.job;
  const from = upscaled.source;
  const isUpscale =
    upscaled.kind === 'upscale' || (upscaled.kind === 'img2img' && upscaled.hires !== undefined);
  if (!isUpscale || from?.jobId === undefined) {
    throw new RequestRefusedError('result-unavailable', 'This picture is not an upscale.');
  }
  const sourceJobId = from.jobId;
  const [source, drawing] = await Promise.all([finishedJob(ctx, sourceJobId), drawingJob(ctx, upscaled)]);
  const index = from.index ?? 0;
  // An upscale has one image; `index` then only names the grid image the chain started from.
  const image = chosenImage(source.job, source.result, source.job.kind === 'upscale' ? 0 : index, context);
  const { factor, creativeStrength } = upscaleSettings(context.settings);
  const pixelBudget = Math.min(context.maxPixels, context.settings?.maxPixels ?? Infinity);
  // The redraw runs the UNet: its sizes are multiples of 64.
  const size = upscaleTarget(image.width, image.height, factor, pixelBudget, LIMITS.sizeMultiple);
  if (size === null) {
    throw new RequestRefusedError(
      'result-unavailable',
      `Upscale (Creative) redraws at most ${pixelBudget} pixels here, and this image is already that large.`,
    );
  }
  const upscaler = pickUpscaler(await ctx.jobs.servedUpscalers(), factor);
  const draft = deriveJob(drawing, {
    type: 'hires',
    source: { image: image.image, index, jobId: sourceJobId },
    seed: image.seed,
    strength: creativeStrength,
    ...size,
    hires: { factor: factor === 4 ? 4 : 2, ...(upscaler === undefined ? {} : { upscaler: upscaler.id }) },
  });
  await requestJob(ctx, interaction, draft, context);
}
