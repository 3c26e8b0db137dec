/**
 * Downloads an image a member gave the bot (an attachment option, or the image of a message), from
 * Discord's CDN only: the URL's origin must be cdn.discordapp.com, media.discordapp.net or the
 * configured DISCORD_CDN_URL. Type and size are checked before the download from what Discord says
 * of the attachment, and again while it streams: the download is cut off past the cap, and it has a
 * deadline. Each refusal says why, in words the member can act on.
 */
import { RequestRefusedError } from '../errors.js';

export const DISCORD_CDN_ORIGINS = ['https://cdn.discordapp.com', 'https://media.discordapp.net'] as const;

/** Formats the bot turns into a source image (the first frame of an animated one). */
export const ACCEPTED_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

export interface AttachmentRef {
  url: string;
  name: string;
  /** What Discord says; absent for some uploads. */
  contentType?: string | null;
  size: number;
}

export interface DownloadOptions {
  /** Origins besides Discord's CDN (DISCORD_CDN_URL). */
  extraOrigins?: readonly string[];
  maxBytes: number;
  timeoutMs: number;
}

function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 1024 * 1024 ? 2 : 1)} MB`;
}

function refuse(message: string): RequestRefusedError {
  return new RequestRefusedError('attachment-refused', message);
}

/** The attachment's origin, or a refusal when it is not one the bot downloads from. */
export function checkOrigin(url: string, extraOrigins: readonly string[] = []): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse(`The image must be a Discord attachment; "${url.slice(0, 80)}" is not a URL.`);
  }
  const allowed = [...DISCORD_CDN_ORIGINS, ...extraOrigins.map((origin) => new URL(origin).origin)];
  if (!allowed.includes(parsed.origin)) {
    throw refuse(`The image must be uploaded to Discord; the bot does not download from ${parsed.host}.`);
  }
  return parsed;
}

/** Refuses before downloading what Discord already says is not an image or is too large. */
export function checkDeclared(attachment: AttachmentRef, maxBytes: number): void {
  const type = attachment.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== undefined && !type.startsWith('image/')) {
    throw refuse(`${attachment.name} is not an image (${type}); attach a PNG, JPEG, WebP or GIF.`);
  }
  if (type !== undefined && !(ACCEPTED_IMAGE_TYPES as readonly string[]).includes(type)) {
    throw refuse(
      `${attachment.name} is a ${type} image, which the bot cannot read; attach a PNG, JPEG, WebP or GIF.`,
    );
  }
  if (attachment.size > maxBytes) {
    throw refuse(
      `${attachment.name} is ${mebibytes(attachment.size)}; images up to ${mebibytes(maxBytes)} are accepted.`,
    );
  }
}

/** The attachment's bytes, at most `maxBytes` of them. */
export async function downloadAttachment(
  attachment: AttachmentRef,
  options: DownloadOptions,
): Promise<Buffer> {
  const url = checkOrigin(attachment.url, options.extraOrigins);
  checkDeclared(attachment, options.maxBytes);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: 'error' });
  } catch (cause) {
    const reason = cause instanceof Error && cause.name === 'TimeoutError' ? 'took too long' : 'failed';
    throw refuse(`Downloading ${attachment.name} from Discord ${reason}; try again.`);
  }
  if (!response.ok || response.body === null) {
    throw refuse(`Discord answered ${response.status} for ${attachment.name}; upload it again.`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      const chunk = next.value;
      total += chunk.byteLength;
      if (total > options.maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw refuse(
          `${attachment.name} is over ${mebibytes(options.maxBytes)}; images up to that size are accepted.`,
        );
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof RequestRefusedError) throw error;
    throw refuse(`Downloading ${attachment.name} from Discord failed; try again.`);
  }
  return Buffer.concat(chunks);
}
