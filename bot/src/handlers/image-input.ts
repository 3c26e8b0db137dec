/**
 * `/imagine image:` (and later the "Vary this image" command): a member's own picture as the start of
 * an img2img job. The image is read from Discord's CDN only, checked, normalised to the job's area
 * and stored in the object store (where results expire, so sources do too) under the job's id.
 */
import {
  ApplicationCommandOptionType,
  type ChatInputCommandInteraction,
  type RepliableInteraction,
} from 'discord.js';
import { LIMITS, ValidationError, type JobDraft } from '@sdbot/shared';
import { downloadAttachment, type AttachmentRef } from '../attachments/download.js';
import { prepareSourceImage } from '../attachments/source-image.js';
import { IMAGINE_OPTIONS } from '../commands/definitions.js';
import type { ImagineDraft } from '../prompt/job-request.js';
import type { PolicyContext } from '../requests/policy.js';
import type { BotContext } from '../service/context.js';
import { jobIdFor } from './submit.js';

/** How far from the given image /imagine moves when the member names no strength. */
export const DEFAULT_IMAGE_STRENGTH = 0.6;
/** Discord's own upload limit for members without Nitro; larger files are refused unread. */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
/** Largest canvas decoded at all: a small file can declare a huge one. */
export const MAX_INPUT_PIXELS = 40_000_000;
const DOWNLOAD_TIMEOUT_MS = 20_000;

export interface ImageInput {
  attachment: AttachmentRef;
  strength: number;
}

/** The `image` and `strength` options, checked; undefined when no image was given. */
export function readImageInput(interaction: ChatInputCommandInteraction): ImageInput | undefined {
  const image = interaction.options.data.find((option) => option.name === IMAGINE_OPTIONS.image);
  const strengthOption = interaction.options.data.find((option) => option.name === IMAGINE_OPTIONS.strength);
  const strength = strengthOption?.value;
  if (strengthOption !== undefined) {
    if (typeof strength !== 'number' || strength < LIMITS.strength.min || strength > LIMITS.strength.max) {
      throw new ValidationError([
        {
          field: IMAGINE_OPTIONS.strength,
          message: `must be a number in ${LIMITS.strength.min}..${LIMITS.strength.max}`,
        },
      ]);
    }
  }
  if (image === undefined) {
    if (strengthOption !== undefined) {
      throw new ValidationError([
        { field: IMAGINE_OPTIONS.strength, message: 'needs an image to start from' },
      ]);
    }
    return undefined;
  }
  const attachment = image.type === ApplicationCommandOptionType.Attachment ? image.attachment : undefined;
  if (attachment === undefined) {
    throw new ValidationError([{ field: IMAGINE_OPTIONS.image, message: 'must be an uploaded image' }]);
  }
  return {
    attachment: {
      url: attachment.url,
      name: attachment.name,
      contentType: attachment.contentType,
      size: attachment.size,
    },
    strength: typeof strength === 'number' ? strength : DEFAULT_IMAGE_STRENGTH,
  };
}

/** The draft as img2img from the member's image, sized to the image's aspect ratio. */
export async function withSourceImage(
  ctx: BotContext,
  interaction: RepliableInteraction,
  draft: ImagineDraft,
  input: ImageInput,
  context: PolicyContext,
): Promise<JobDraft> {
  const extraOrigins = ctx.config.discord.cdnUrl === undefined ? [] : [ctx.config.discord.cdnUrl];
  const bytes = await downloadAttachment(input.attachment, {
    extraOrigins,
    maxBytes: MAX_IMAGE_BYTES,
    timeoutMs: DOWNLOAD_TIMEOUT_MS,
  });
  const maxPixels = Math.min(context.maxPixels, context.settings?.maxPixels ?? Number.POSITIVE_INFINITY);
  const source = await prepareSourceImage(input.attachment.name, bytes, {
    maxInputPixels: MAX_INPUT_PIXELS,
    targetPixels: draft.width * draft.height,
    maxPixels,
  });
  const image = await ctx.jobs.uploadSource(jobIdFor(interaction), source.png);
  return {
    ...draft,
    kind: 'img2img',
    width: source.width,
    height: source.height,
    strength: input.strength,
    source: { image },
  };
}
