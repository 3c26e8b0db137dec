/**
 * Makes an image fit Discord's attachment limit (10 MiB for bots unless the interaction says
 * otherwise). A PNG that fits goes as it is; otherwise it is re-encoded as WebP, then JPEG at
 * falling quality, then scaled down, until it fits, and the reply says so. The PNG's `parameters`
 * text goes along (parameters-metadata.ts).
 */
import sharp from 'sharp';
import { LIMITS, SdbotError, ValidationError } from '@sdbot/shared';
import { pngParameters, withParameters } from './parameters-metadata.js';

/** Discord's default upload limit for bots, webhooks and interaction responses. */
export const DEFAULT_ATTACHMENT_LIMIT_BYTES = 10 * 1024 * 1024;

/** Below this no picture worth posting fits: a caller passing less has a bug. */
export const MIN_ATTACHMENT_LIMIT_BYTES = 16 * 1024;

export type AttachmentContentType = 'image/png' | 'image/webp' | 'image/jpeg';

export interface FittedAttachment {
  data: Buffer;
  fileName: string;
  contentType: AttachmentContentType;
  /** True when the image was re-encoded or scaled to fit. */
  reduced: boolean;
  /** Present when reduced: what was done, for the embed. */
  note?: string;
}

export interface FitOptions {
  /** The interaction's `attachment_size_limit`, or the default. */
  limitBytes?: number;
  /** File name without extension, e.g. `sdbot-<jobId>`. */
  baseName: string;
  /** Discord blurs attachments whose name starts with SPOILER_. */
  spoiler?: boolean;
}

interface Attempt {
  format: 'webp' | 'jpeg';
  quality: number;
  /** Fraction of the original width and height. */
  scale: number;
}

/** Cheapest loss first: WebP keeps more at the same size, JPEG goes smaller; scaling comes last. */
const ATTEMPTS: readonly Attempt[] = [
  { format: 'webp', quality: 90, scale: 1 },
  { format: 'webp', quality: 75, scale: 1 },
  { format: 'jpeg', quality: 85, scale: 1 },
  { format: 'jpeg', quality: 70, scale: 1 },
  { format: 'jpeg', quality: 55, scale: 1 },
  ...[0.75, 0.5, 0.35, 0.25, 0.125].map((scale) => ({ format: 'jpeg' as const, quality: 70, scale })),
];

const EXTENSIONS = { png: 'png', webp: 'webp', jpeg: 'jpg' } as const;
const CONTENT_TYPES = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' } as const;

/** `9.5 MiB`, `780 KiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

function fileName(options: FitOptions, format: keyof typeof EXTENSIONS): string {
  return `${options.spoiler === true ? 'SPOILER_' : ''}${options.baseName}.${EXTENSIONS[format]}`;
}

export async function fitAttachment(png: Buffer, options: FitOptions): Promise<FittedAttachment> {
  const limit = options.limitBytes ?? DEFAULT_ATTACHMENT_LIMIT_BYTES;
  if (!Number.isInteger(limit) || limit < MIN_ATTACHMENT_LIMIT_BYTES) {
    throw new ValidationError([
      {
        field: 'limitBytes',
        message: `must be an integer of at least ${MIN_ATTACHMENT_LIMIT_BYTES} (got ${limit})`,
      },
    ]);
  }
  if (png.length <= limit) {
    return { data: png, fileName: fileName(options, 'png'), contentType: 'image/png', reduced: false };
  }
  // Decode once; every attempt encodes from the same pixels. JPEG has no alpha: flatten to black.
  const { data: pixels, info } = await sharp(png)
    .flatten({ background: '#000000' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  const parameters = await pngParameters(png);
  for (const attempt of ATTEMPTS) {
    const width = Math.round(info.width * attempt.scale);
    const height = Math.round(info.height * attempt.scale);
    if (Math.min(width, height) < LIMITS.size.min) break;
    let image = withParameters(sharp(pixels, { raw }), parameters);
    if (attempt.scale !== 1) image = image.resize(width, height);
    const data =
      attempt.format === 'webp'
        ? await image.webp({ quality: attempt.quality }).toBuffer()
        : await image.jpeg({ quality: attempt.quality, mozjpeg: true }).toBuffer();
    if (data.length > limit) continue;
    const scaled = attempt.scale === 1 ? '' : `, scaled to ${width}x${height}`;
    return {
      data,
      fileName: fileName(options, attempt.format),
      contentType: CONTENT_TYPES[attempt.format],
      reduced: true,
      note:
        `The PNG (${formatBytes(png.length)}) is over the ${formatBytes(limit)} upload limit here, so this is ` +
        `a ${attempt.format === 'webp' ? 'WebP' : 'JPEG'} at quality ${attempt.quality}${scaled} (${formatBytes(data.length)}).`,
    };
  }
  throw new SdbotError(
    'INTERNAL',
    `cannot fit a ${info.width}x${info.height} image into ${formatBytes(limit)} even as a small JPEG`,
  );
}
