/**
 * What the bot's messages about a job look like: queued, in progress, finished (the grid, or one
 * image alone), failed or cancelled. Pure apart from image composition, so the same message is
 * posted whether it goes through the interaction or straight to the channel.
 */
import { escapeMarkdown, type APIEmbed } from 'discord.js';
import type { Job, JobFailure, JobResult, Progress, QueuePosition } from '@sdbot/shared';
import {
  pendingComponents,
  resultComponents,
  singleImageComponents,
  type ButtonRow,
} from '../render/components.js';
import { resultEmbed } from '../render/embed.js';
import { fitAttachment, type FittedAttachment } from '../render/fit.js';
import { composeGrid } from '../render/grid.js';

export interface OutgoingFile {
  name: string;
  data: Buffer;
}

/** A message to post or to put in place of the current one (its old attachments are dropped). */
export interface OutgoingMessage {
  content: string;
  embeds: APIEmbed[];
  components: ButtonRow[];
  files: OutgoingFile[];
  /** Users the content may ping (the requester, when a result goes to the channel); nobody else. */
  mentionUsers: string[];
}

/** Prompts are shown bold in the first line; long ones are cut so the line stays readable. */
const PROMPT_PREVIEW_CHARS = 300;

/** What a job message leads with: the prompt, or what an upscale enlarges. */
export function jobCaption(job: Job): string {
  if (job.kind !== 'upscale') return job.prompt;
  return job.source.index === undefined ? 'Upscale' : `Upscale of image ${job.source.index + 1}`;
}

export function promptLine(prompt: string): string {
  const clipped =
    prompt.length <= PROMPT_PREVIEW_CHARS ? prompt : `${prompt.slice(0, PROMPT_PREVIEW_CHARS - 1)}…`;
  return `**${escapeMarkdown(clipped)}**`;
}

function jobs(count: number): string {
  return `${count} job${count === 1 ? '' : 's'}`;
}

export function queuedView(job: Job, position: QueuePosition | null): OutgoingMessage {
  const where =
    position === null
      ? 'starting'
      : position.ahead === 0
        ? 'queued, next in line'
        : `queued, ${jobs(position.ahead)}${position.capped ? ' or more' : ''} ahead`;
  return {
    content: `${promptLine(jobCaption(job))} - ${where}`,
    embeds: [],
    components: pendingComponents(job.id),
    files: [],
    mentionUsers: [],
  };
}

export function progressView(job: Job, progress: Progress, preview: Buffer | undefined): OutgoingMessage {
  const percent = Math.floor((100 * progress.step) / progress.total);
  // A plain upscale reports the tiles it has run, not denoising steps.
  const unit = job.kind === 'upscale' ? 'upscaling, tile' : 'step';
  return {
    content: `${promptLine(jobCaption(job))} - ${unit} ${progress.step}/${progress.total} (${percent}%)`,
    embeds: [],
    components: pendingComponents(job.id),
    files: preview === undefined ? [] : [{ name: 'preview.png', data: preview }],
    mentionUsers: [],
  };
}

export interface ResultViewInput {
  job: Job;
  result: JobResult;
  /** PNG bytes of each result image, in order. */
  images: Buffer[];
  userId: string;
  attachmentLimit: number;
  /**
   * Post the attachment as a spoiler with a content warning: flagged images came back intact (the
   * job was asked for in an age-restricted channel of a server that allows them).
   */
  spoiler: boolean;
}

/** Flagged images that came back intact, rather than replaced by the worker. */
export function flaggedIntact(job: Job, result: JobResult): boolean {
  return job.nsfw === 'allow' && result.images.some((image) => image.nsfw);
}

/**
 * A result's image as an attachment that fits the channel's limit, and the embed describing it.
 * An embed shows its image unblurred, so a spoilered file stays out of the embed.
 */
export async function attachedResult(
  job: Job,
  result: JobResult,
  png: Buffer,
  { attachmentLimit, spoiler }: { attachmentLimit: number; spoiler: boolean },
): Promise<{ file: FittedAttachment; embed: APIEmbed }> {
  const file = await fitAttachment(png, {
    limitBytes: attachmentLimit,
    baseName: `sdbot-${job.id}`,
    spoiler,
  });
  const embed = resultEmbed(job, result, {
    ...(spoiler ? {} : { imageFileName: file.fileName }),
    ...(file.note === undefined ? {} : { attachmentNote: file.note }),
  });
  return { file, embed };
}

/** The grid of every image (or the single image) with its embed and U/V/re-roll/delete buttons. */
export async function resultView(input: ResultViewInput): Promise<OutgoingMessage> {
  const { job, result } = input;
  const grid = await composeGrid(input.images);
  const { file, embed } = await attachedResult(job, result, grid.data, input);
  // Replaced images have nothing to upscale or vary; intact flagged ones are checked when pressed.
  const withheld =
    job.nsfw === 'allow' ? [] : result.images.flatMap((image, index) => (image.nsfw ? [index] : []));
  const warning = input.spoiler
    ? '\n**Content warning**: flagged by the safety filter; open the spoiler to view.'
    : '';
  return {
    content: `${promptLine(jobCaption(job))} - <@${input.userId}>${warning}`,
    embeds: [embed],
    components: resultComponents(job.id, result.images.length, { withheld }),
    files: [{ name: file.fileName, data: file.data }],
    mentionUsers: [],
  };
}

export interface SingleImageViewInput {
  job: Job;
  result: JobResult;
  index: number;
  /** PNG bytes of that image. */
  image: Buffer;
  userId: string;
  attachmentLimit: number;
}

/** One image of a result on its own, at full size (the U buttons). */
export async function singleImageView(input: SingleImageViewInput): Promise<OutgoingMessage> {
  const { job, result, index } = input;
  const chosen = result.images[index];
  const file = await fitAttachment(input.image, {
    limitBytes: input.attachmentLimit,
    baseName: `sdbot-${job.id}-${index + 1}`,
  });
  const embed = resultEmbed(
    job,
    { ...result, images: chosen === undefined ? result.images : [chosen] },
    {
      imageFileName: file.fileName,
      ...(file.note === undefined ? {} : { attachmentNote: file.note }),
    },
  );
  embed.title = `Image ${index + 1}${embed.title === undefined ? '' : ` (${embed.title})`}`;
  return {
    content: `${promptLine(jobCaption(job))} - image ${index + 1} - <@${input.userId}>`,
    embeds: [embed],
    components: singleImageComponents(job.id, index),
    files: [{ name: file.fileName, data: file.data }],
    mentionUsers: [],
  };
}

/** Failure codes whose message was written for the person who asked. */
const USER_FACING_FAILURES = new Set<JobFailure['code']>(['INVALID_INPUT', 'UNKNOWN_MODEL', 'IMAGE_INVALID']);

/** `cancelled by <@123>` from the worker's `cancelled by 123`. */
function cancelledText(message: string): string {
  const by = /^cancelled by (\d{17,20})$/.exec(message)?.[1];
  return by === undefined ? 'cancelled' : `cancelled by <@${by}>`;
}

export function failureText(failure: Pick<JobFailure, 'code' | 'message' | 'retryable'>): string {
  if (failure.code === 'CANCELLED') return cancelledText(failure.message);
  if (failure.code === 'TIMEOUT') return 'took too long and was given up; please try again';
  if (USER_FACING_FAILURES.has(failure.code)) return `failed: ${failure.message}`;
  return failure.retryable
    ? `failed (${failure.code}); please try again in a moment`
    : `failed (${failure.code}); the bot's operator can find the details in the logs`;
}

export function failureView(
  prompt: string | undefined,
  failure: Pick<JobFailure, 'code' | 'message' | 'retryable'>,
  userId: string,
): OutgoingMessage {
  const head = prompt === undefined ? 'Your picture' : promptLine(prompt);
  return {
    content: `${head} - ${failureText(failure)} - <@${userId}>`,
    embeds: [],
    components: [],
    files: [],
    mentionUsers: [],
  };
}
