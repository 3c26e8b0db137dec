/**
 * The message of an upscaled image (U, Upscale again, Upscale (Creative)): the image alone with
 * Upscale again (while the guild's cap leaves room), Upscale (Creative), Vary (Subtle), Vary
 * (Strong), Remix and Delete; and the message
 * U posts when no upscaler is online (the image at its size, saying so).
 */
import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import type { Job, JobResult } from '@sdbot/shared';
import {
  attachedResult,
  jobCaption,
  promptLine,
  singleImageView,
  type OutgoingMessage,
} from '../delivery/views.js';
import type { ButtonRow } from '../render/components.js';
import { encodeCustomId } from '../render/custom-id.js';

const BUTTONS_PER_ROW = 5;

export interface UpscaleButtonsOptions {
  /** Offer Upscale again (the image is still under the guild's upscale cap). */
  again: boolean;
}

export function upscaleComponents(jobId: string, { again }: UpscaleButtonsOptions): ButtonRow[] {
  const buttons: ButtonBuilder[] = [];
  if (again) {
    buttons.push(
      new ButtonBuilder()
        .setCustomId(encodeCustomId({ type: 'upscale-again', jobId }))
        .setStyle(ButtonStyle.Secondary)
        .setLabel('Upscale again'),
    );
  }
  buttons.push(
    new ButtonBuilder()
      .setCustomId(encodeCustomId({ type: 'creative', jobId }))
      .setStyle(ButtonStyle.Secondary)
      .setLabel('Upscale (Creative)'),
    new ButtonBuilder()
      .setCustomId(encodeCustomId({ type: 'vary-subtle', jobId }))
      .setStyle(ButtonStyle.Secondary)
      .setLabel('Vary (Subtle)'),
    new ButtonBuilder()
      .setCustomId(encodeCustomId({ type: 'vary-strong', jobId }))
      .setStyle(ButtonStyle.Secondary)
      .setLabel('Vary (Strong)'),
    new ButtonBuilder()
      .setCustomId(encodeCustomId({ type: 'remix', jobId }))
      .setStyle(ButtonStyle.Secondary)
      .setLabel('Remix'),
    new ButtonBuilder()
      .setCustomId(encodeCustomId({ type: 'delete', jobId }))
      .setStyle(ButtonStyle.Danger)
      .setLabel('Delete')
      .setEmoji('🗑️'),
  );
  // Discord allows five buttons a row. Every button here has a custom_id, as ButtonRow promises.
  const rows: ButtonRow[] = [];
  for (let start = 0; start < buttons.length; start += BUTTONS_PER_ROW) {
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      buttons.slice(start, start + BUTTONS_PER_ROW),
    );
    rows.push(row.toJSON() as ButtonRow);
  }
  return rows;
}

export interface UpscaleViewInput {
  job: Job;
  result: JobResult;
  /** PNG bytes of the upscaled image. */
  image: Buffer;
  userId: string;
  attachmentLimit: number;
  spoiler: boolean;
  again: boolean;
  /** The upscaled image's size. */
  width: number;
  height: number;
}

export async function upscaleResultView(input: UpscaleViewInput): Promise<OutgoingMessage> {
  const { job, result } = input;
  const { file, embed } = await attachedResult(job, result, input.image, input);
  const how = job.kind === 'img2img' && job.hires !== undefined ? 'upscaled (creative)' : 'upscaled';
  return {
    content: `${promptLine(jobCaption(job))} - ${how} to ${input.width}x${input.height} - <@${input.userId}>`,
    embeds: [embed],
    components: upscaleComponents(job.id, { again: input.again }),
    files: [{ name: file.fileName, data: file.data }],
    mentionUsers: [],
  };
}

/** The line U adds when it cannot upscale. */
export function noUpscalerLine(width: number, height: number): string {
  return `No upscaler is online, so this is the image at its generated size (${width}x${height}).`;
}

/** U without an upscaler online: the image alone at its size, with a line saying why. */
export async function notUpscaledView(
  input: Parameters<typeof singleImageView>[0] & { width: number; height: number },
): Promise<OutgoingMessage> {
  const message = await singleImageView(input);
  return { ...message, content: `${message.content}\n${noUpscalerLine(input.width, input.height)}` };
}
