/** The embed posted with a result: what was asked, what was used, and what the user should know. */
import { escapeMarkdown, type APIEmbed, type APIEmbedField } from 'discord.js';
import {
  promptCutNotice,
  schedulerLabel,
  unsupportedPromptNotice,
  type Job,
  type JobResult,
} from '@sdbot/shared';

/** Discord's embed limits. */
export const EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  total: 6000,
} as const;

const EMBED_COLOUR = 0x5865f2;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `850 ms`, `3.4 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

function title(job: Job): string | undefined {
  const image = job.source?.index === undefined ? '' : ` ${job.source.index + 1}`;
  switch (job.kind) {
    case 'txt2img':
      return undefined;
    case 'upscale':
      return `Upscale of image${image}`;
    case 'variation':
      return `Variation of image${image}`;
    case 'img2img':
      return job.hires === undefined ? 'Drawn from an image' : `Upscale (Creative) of image${image}`;
  }
}

/** How much of each prompt the model did not read, and the A1111 constructs it read as text. */
function promptNotices(job: Exclude<Job, { kind: 'upscale' }>, result: JobResult): APIEmbedField[] {
  // A job without a syntax (older producers) was read as plain text.
  const syntax = job.syntax ?? 'plain';
  const negative = result.negativeTruncatedTokens ?? 0;
  const cut = [
    ...(result.truncatedTokens > 0
      ? [promptCutNotice('prompt', result.truncatedTokens, syntax, result.promptChunkLimit)]
      : []),
    ...(negative > 0 ? [promptCutNotice('negative prompt', negative, syntax, result.promptChunkLimit)] : []),
  ];
  const fields: APIEmbedField[] = [];
  if (cut.length > 0) fields.push({ name: 'Prompt cut short', value: cut.join(' ') });
  const unsupported = unsupportedPromptNotice(job.prompt, syntax);
  if (unsupported !== undefined) fields.push({ name: 'Prompt syntax', value: unsupported });
  return fields;
}

export interface ResultEmbedOptions {
  /** `attachment://<name>` of the posted image, so the embed shows it. */
  imageFileName?: string;
  /** From fitAttachment when the image had to be shrunk. */
  attachmentNote?: string;
}

export function resultEmbed(job: Job, result: JobResult, options: ResultEmbedOptions = {}): APIEmbed {
  const inline = (name: string, value: string): APIEmbedField => ({
    name,
    value: clip(value, EMBED_LIMITS.fieldValue),
    inline: true,
  });
  const seeds = result.images.map((image) => image.seed);
  const fields: APIEmbedField[] = [];
  if (job.kind !== 'upscale' && job.negativePrompt !== '') {
    fields.push({
      name: 'Negative',
      value: clip(escapeMarkdown(job.negativePrompt), EMBED_LIMITS.fieldValue),
    });
  }
  if (job.kind !== 'upscale') {
    fields.push(
      inline(seeds.length === 1 ? 'Seed' : 'Seeds', seeds.join(', ')),
      inline('Steps', String(job.steps)),
      inline('Guidance', String(job.guidance)),
      inline('Scheduler', schedulerLabel(job.scheduler)),
      inline('Size', `${job.width}x${job.height}`),
    );
  }
  fields.push(
    inline('Model', result.model),
    inline(
      'Time',
      `${formatDuration(result.timings.totalMs)} (waited ${formatDuration(result.timings.queuedMs)})`,
    ),
  );
  const filtered = result.images.filter((image) => image.nsfw).length;
  if (filtered > 0) {
    const what =
      job.nsfw === 'allow'
        ? 'flagged by the safety filter (shown behind a spoiler)'
        : 'withheld by the safety filter';
    fields.push({
      name: 'Safety filter',
      value: `${filtered} of ${result.images.length} image${result.images.length === 1 ? '' : 's'} ${filtered === 1 ? 'was' : 'were'} ${what}.`,
    });
  }
  if (job.kind !== 'upscale') fields.push(...promptNotices(job, result));
  if (options.attachmentNote !== undefined) {
    fields.push({ name: 'Attachment', value: clip(options.attachmentNote, EMBED_LIMITS.fieldValue) });
  }
  const embed: APIEmbed = { color: EMBED_COLOUR, fields, footer: { text: `job ${job.id}` } };
  if (job.kind !== 'upscale') {
    embed.description =
      job.prompt === ''
        ? '*(no prompt: unconditional)*'
        : clip(escapeMarkdown(job.prompt), EMBED_LIMITS.description);
  }
  const heading = title(job);
  if (heading !== undefined) embed.title = heading;
  if (options.imageFileName !== undefined) embed.image = { url: `attachment://${options.imageFileName}` };
  return embed;
}
