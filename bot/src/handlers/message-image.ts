/**
 * The message context commands on an image: "Show parameters" answers privately with the A1111
 * parameters the image carries; "Vary this image" opens a modal with the image's prompt and, on
 * submit, asks for an img2img job from that image through the one request path (as /imagine).
 */
import {
  LabelBuilder,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  type Attachment,
  type Message,
  type MessageContextMenuCommandInteraction,
  type ModalSubmitInteraction,
} from 'discord.js';
import { LIMITS, LOG_EVENTS } from '@sdbot/shared';
import { ACCEPTED_IMAGE_TYPES, downloadAttachment, type AttachmentRef } from '../attachments/download.js';
import { RequestRefusedError } from '../errors.js';
import { readEmbeddedParameters } from '../parameters/embedded.js';
import { parseInfotext, shownParameters, type ShownParameters } from '../parameters/infotext.js';
import { buildJobRequest, checkImagineInput } from '../prompt/job-request.js';
import { refuseChannel } from '../requests/policy.js';
import { requestContext, requestJob } from '../requests/request-job.js';
import { refuseMember } from '../settings/access.js';
import type { BotContext } from '../service/context.js';
import { MAX_IMAGE_BYTES, MAX_INPUT_PIXELS, withSourceImage } from './image-input.js';
import { answerPrivately, deferPrivately, deferPublicly } from './respond.js';

/** "Vary this image" is a strong variation: far enough from the image to be a new picture. */
export const VARY_IMAGE_STRENGTH = 0.75;
/** The modal's custom id: this prefix, then the id of the message whose image is varied. */
export const VARY_MODAL_PREFIX = 'vary-image:';
export const VARY_PROMPT_FIELD = 'prompt';
const DOWNLOAD_TIMEOUT_MS = 20_000;
/** The modal must be the first answer, within Discord's 3 s: the prompt prefill gets less. */
const PREFILL_TIMEOUT_MS = 2000;
const IMAGE_EXTENSIONS = /\.(png|jpe?g|webp|gif)$/i;
/** Room for each text in a 2000-character message. */
const TEXT_SHOWN_CHARS = 800;

function isImage(attachment: Attachment): boolean {
  const type = attachment.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== undefined) return (ACCEPTED_IMAGE_TYPES as readonly string[]).includes(type);
  return IMAGE_EXTENSIONS.test(attachment.name);
}

/** The message's first image attachment, or a refusal saying there is none. */
export function firstImageOf(message: Message, command: string): AttachmentRef {
  const attachment = message.attachments.find(isImage);
  if (attachment === undefined) {
    throw new RequestRefusedError(
      'attachment-refused',
      `That message has no image; use "${command}" on a message with a PNG, JPEG, WebP or GIF attached.`,
    );
  }
  return {
    url: attachment.url,
    name: attachment.name,
    contentType: attachment.contentType,
    size: attachment.size,
  };
}

function download(ctx: BotContext, attachment: AttachmentRef, timeoutMs: number): Promise<Buffer> {
  const extraOrigins = ctx.config.discord.cdnUrl === undefined ? [] : [ctx.config.discord.cdnUrl];
  return downloadAttachment(attachment, { extraOrigins, maxBytes: MAX_IMAGE_BYTES, timeoutMs });
}

function clip(text: string): string {
  return text.length <= TEXT_SHOWN_CHARS ? text : `${text.slice(0, TEXT_SHOWN_CHARS - 1)}…`;
}

/** The private answer of "Show parameters". */
export function describeParameters(name: string, shown: ShownParameters): string {
  const settings = [
    ['Seed', shown.seed],
    ['Steps', shown.steps],
    ['Sampler', shown.sampler],
    ['Guidance', shown.guidance],
    ['Size', shown.size],
  ]
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => `**${key}:** ${value}`);
  return [
    `Parameters of ${name}:`,
    `**Prompt:** ${shown.prompt === '' ? '(none)' : clip(shown.prompt)}`,
    `**Negative prompt:** ${shown.negativePrompt === '' ? '(none)' : clip(shown.negativePrompt)}`,
    settings.length > 0 ? settings.join(' · ') : '',
    `**Model:** ${shown.model ?? '(not given)'}`,
  ]
    .filter((line) => line !== '')
    .join('\n');
}

export async function handleShowParameters(
  ctx: BotContext,
  interaction: MessageContextMenuCommandInteraction,
): Promise<void> {
  const attachment = firstImageOf(interaction.targetMessage, interaction.commandName);
  if (!(await deferPrivately(interaction))) return;
  const bytes = await download(ctx, attachment, DOWNLOAD_TIMEOUT_MS);
  const text = await readEmbeddedParameters(bytes, MAX_INPUT_PIXELS);
  if (text === undefined) {
    await answerPrivately(
      interaction,
      `${attachment.name} carries no generation parameters (no A1111 "parameters" text in its PNG text, EXIF or XMP).`,
    );
    return;
  }
  await answerPrivately(
    interaction,
    describeParameters(attachment.name, shownParameters(parseInfotext(text))),
  );
}

/** The image's prompt for the modal, or '' when it has none or cannot be read in time. */
async function promptOf(ctx: BotContext, attachment: AttachmentRef): Promise<string> {
  try {
    const text = await readEmbeddedParameters(
      await download(ctx, attachment, PREFILL_TIMEOUT_MS),
      MAX_INPUT_PIXELS,
    );
    return text === undefined ? '' : parseInfotext(text).prompt.slice(0, LIMITS.promptMaxChars);
  } catch (error) {
    ctx.logger.info(
      { reason: error instanceof Error ? error.message : String(error) },
      LOG_EVENTS.vary.prefillSkipped,
    );
    return '';
  }
}

export async function handleVaryImage(
  ctx: BotContext,
  interaction: MessageContextMenuCommandInteraction,
): Promise<void> {
  const attachment = firstImageOf(interaction.targetMessage, interaction.commandName);
  const [context, prompt] = await Promise.all([requestContext(ctx, interaction), promptOf(ctx, attachment)]);
  // Who and where are known now: a member who may not create images here is told before typing.
  refuseMember(context.settings, { userId: context.userId, roleIds: context.roles });
  refuseChannel(context.settings, context.channel);
  const input = new TextInputBuilder()
    .setCustomId(VARY_PROMPT_FIELD)
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(true)
    .setMaxLength(LIMITS.promptMaxChars);
  if (prompt !== '') input.setValue(prompt);
  const modal = new ModalBuilder()
    .setCustomId(`${VARY_MODAL_PREFIX}${interaction.targetId}`)
    .setTitle('Vary this image')
    .addLabelComponents(
      new LabelBuilder()
        .setLabel('Prompt')
        .setDescription('The new picture starts from the image; flags such as --no text work too')
        .setTextInputComponent(input),
    );
  await interaction.showModal(modal);
}

export function isVaryModal(interaction: ModalSubmitInteraction): boolean {
  return interaction.customId.startsWith(VARY_MODAL_PREFIX);
}

/** The modal's submit: the edited prompt, checked as /imagine checks it, img2img from the image. */
export async function handleVarySubmit(ctx: BotContext, interaction: ModalSubmitInteraction): Promise<void> {
  const messageId = interaction.customId.slice(VARY_MODAL_PREFIX.length);
  const options = { prompt: interaction.fields.getTextInputValue(VARY_PROMPT_FIELD) };
  checkImagineInput(options, ctx.jobDefaults);
  if (!(await deferPublicly(interaction))) return;
  const channel =
    interaction.channel ??
    (interaction.channelId === null ? null : await ctx.client.channels.fetch(interaction.channelId));
  if (channel === null || !('messages' in channel)) {
    throw new RequestRefusedError('result-unavailable', 'The image to vary is no longer reachable here.');
  }
  const message = await channel.messages.fetch(messageId).catch(() => {
    throw new RequestRefusedError(
      'result-unavailable',
      'The message with the image was deleted; nothing to vary.',
    );
  });
  const attachment = firstImageOf(message, 'Vary this image');
  const context = await requestContext(ctx, interaction);
  const notes: string[] = [];
  const draft = buildJobRequest(options, { ...context, defaults: ctx.jobDefaults, notes });
  const job = await withSourceImage(
    ctx,
    interaction,
    draft,
    { attachment, strength: VARY_IMAGE_STRENGTH },
    context,
  );
  await requestJob(ctx, interaction, job, context, notes);
}
