/**
 * U1-U4, Upscale again and Upscale (Creative). U and Upscale again send an `upscale` job to a
 * super-resolution worker (the guild's factor, capped by its `upscale-max-pixels`); Creative sends
 * one to the diffusion model that drew the picture, which enlarges it and redraws it with img2img
 * at the guild's `creative-strength`, same prompt and seed (a hires fix), within the pixel budget.
 * Without an upscaler online, U posts the image at its size and says so.
 */
import type { ButtonInteraction } from 'discord.js';
import {
  createJobSchema,
  validate,
  type GenerationJob,
  type GenerationJobInput,
  type GuildSettings,
  type Requester,
  type ResultImage,
} from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
import { DEFAULT_ATTACHMENT_LIMIT_BYTES } from '../render/fit.js';
import type { BotContext } from '../service/context.js';
import { editOptions } from '../service/discord.js';
import { pickUpscaler, upscaleSettings, upscaleTarget, type Size } from '../upscale/sizes.js';
import { notUpscaledView } from '../upscale/view.js';
import { chosenImage, finishedJob, guildSettings, jobState } from './finished-job.js';
import { deferPublicly } from './respond.js';
import { submitJob } from './submit.js';

/** Upscale again chains are short; this bounds the walk back to the drawing job. */
const MAX_CHAIN = 16;

interface UpscaleSource {
  /** The job whose settings (prompt, seed, steps...) the upscale carries on. */
  job: GenerationJob;
  image: ResultImage;
  index: number;
  jobId: string;
}

function isPlainUpscale(job: GenerationJob): boolean {
  return job.kind === 'upscale' && job.upscale?.creative !== true;
}

/** The upscale job for `source` at `size`: plain (an upscaler) or creative (the diffusion model). */
function upscaleJob(
  ctx: BotContext,
  id: string,
  requester: Requester,
  source: UpscaleSource,
  size: Size,
  spec: { model: string; upscaler: string | undefined; factor: number; creative: boolean; strength?: number },
): GenerationJob {
  const { job } = source;
  const input: GenerationJobInput = {
    v: 1,
    id,
    kind: 'upscale',
    prompt: job.prompt,
    negativePrompt: job.negativePrompt,
    seed: source.image.seed,
    steps: job.steps,
    guidance: job.guidance,
    width: size.width,
    height: size.height,
    scheduler: job.scheduler,
    rng: job.rng,
    model: spec.model,
    count: 1,
    source: { image: source.image.image, index: source.index, jobId: source.jobId },
    upscale: {
      ...(spec.upscaler === undefined ? {} : { upscaler: spec.upscaler }),
      factor: spec.factor === 4 ? 4 : 2,
      creative: spec.creative,
    },
    ...(spec.strength === undefined ? {} : { strength: spec.strength }),
    requester,
    createdAt: ctx.now(),
  };
  return validate(createJobSchema({ maxPixels: ctx.config.limits.maxPixels }), input);
}

/** Sends a plain upscale of `source` to an online upscaler; refuses when none is online. */
async function submitPlainUpscale(
  ctx: BotContext,
  interaction: ButtonInteraction,
  settings: GuildSettings | null,
  source: UpscaleSource,
): Promise<void> {
  const { factor, maxPixels } = upscaleSettings(settings);
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
  await submitJob(ctx, interaction, settings, (id, requester) =>
    upscaleJob(ctx, id, requester, source, size, {
      model: upscaler.id,
      upscaler: upscaler.id,
      factor,
      creative: false,
    }),
  );
}

/** U: the chosen image of a grid, upscaled; at its own size with a notice when no upscaler is online. */
export async function upscaleImage(
  ctx: BotContext,
  interaction: ButtonInteraction,
  jobId: string,
  index: number,
): Promise<void> {
  if (!(await deferPublicly(interaction))) return;
  const [{ job, result }, settings, upscalers] = await Promise.all([
    finishedJob(ctx, jobId),
    guildSettings(ctx, interaction),
    ctx.jobs.servedUpscalers(),
  ]);
  const image = chosenImage(result, index);
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
    ctx.logger.info({ guildId: interaction.guildId, jobId }, 'upscale:unavailable');
    return;
  }
  await submitPlainUpscale(ctx, interaction, settings, { job, image, index, jobId });
}

/** Upscale again: the upscaled image, enlarged once more (up to the guild's cap). */
export async function upscaleAgain(
  ctx: BotContext,
  interaction: ButtonInteraction,
  jobId: string,
): Promise<void> {
  if (!(await deferPublicly(interaction))) return;
  const [{ job, result }, settings] = await Promise.all([
    finishedJob(ctx, jobId),
    guildSettings(ctx, interaction),
  ]);
  const image = chosenImage(result, 0);
  // The index names the grid image the chain started from, for the title; the image is this one.
  await submitPlainUpscale(ctx, interaction, settings, { job, image, index: job.source?.index ?? 0, jobId });
}

/** The job that drew the picture an upscale chain started from (its diffusion model). */
async function drawingJob(ctx: BotContext, job: GenerationJob): Promise<GenerationJob> {
  let current = job;
  for (let hop = 0; hop < MAX_CHAIN && isPlainUpscale(current); hop += 1) {
    const sourceJobId = current.source?.jobId;
    if (sourceJobId === undefined) break;
    current = (await jobState(ctx, sourceJobId)).job;
  }
  if (isPlainUpscale(current)) {
    throw new RequestRefusedError('result-unavailable', 'The picture this upscale came from has expired.');
  }
  return current;
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
  const [state, settings] = await Promise.all([jobState(ctx, jobId), guildSettings(ctx, interaction)]);
  const upscaled = state.job;
  const from = upscaled.source;
  if (upscaled.kind !== 'upscale' || from?.jobId === undefined) {
    throw new RequestRefusedError('result-unavailable', 'This picture is not an upscale.');
  }
  const [source, drawing] = await Promise.all([finishedJob(ctx, from.jobId), drawingJob(ctx, upscaled)]);
  const index = from.index ?? 0;
  // An upscale has one image; `index` then only names the grid image the chain started from.
  const image = chosenImage(source.result, source.job.kind === 'upscale' ? 0 : index);
  const { factor, creativeStrength } = upscaleSettings(settings);
  const pixelBudget = Math.min(ctx.config.limits.maxPixels, settings?.maxPixels ?? Infinity);
  const size = upscaleTarget(image.width, image.height, factor, pixelBudget);
  if (size === null) {
    throw new RequestRefusedError(
      'result-unavailable',
      `Upscale (Creative) redraws at most ${pixelBudget} pixels here, and this image is already that large.`,
    );
  }
  const upscaler = pickUpscaler(await ctx.jobs.servedUpscalers(), factor);
  await submitJob(ctx, interaction, settings, (id, requester) =>
    upscaleJob(ctx, id, requester, { job: upscaled, image, index, jobId: from.jobId ?? jobId }, size, {
      model: drawing.model,
      upscaler: upscaler?.id,
      factor,
      creative: true,
      strength: creativeStrength,
    }),
  );
}
