/**
 * Every validation limit in one place. The bot, the worker, the CLI and the schemas read these, so a
 * user sees the same ranges wherever they type a value.
 */
export const LIMITS = {
  promptMaxChars: 2000,
  negativePromptMaxChars: 2000,
  steps: { min: 1, max: 150 },
  guidance: { min: 0, max: 30 },
  /** Width and height are multiples of this (the VAE downsamples by 8). */
  sizeMultiple: 8,
  size: { min: 64, max: 2048 },
  /** Default cap on width x height; operators raise or lower it with SDBOT_MAX_PIXELS. */
  defaultMaxPixels: 1024 * 1024,
  count: { min: 1, max: 4 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  strength: { min: 0, max: 1 },
  /** CLIP text encoders of SD 1.x/2.x see 77 tokens including start and end. */
  tokenizerMaxLength: 77,
  /** A1111 prompt syntax: prompt tokens per chunk (77 with start and end) and chunks per prompt. */
  promptChunkTokens: 75,
  promptMaxChunks: 3,
  /** Largest job message the jobs stream accepts; images travel through the object store. */
  jobMessageMaxBytes: 64 * 1024,
  /** Identifiers used inside NATS subjects must be a single subject token. */
  idPattern: /^[A-Za-z0-9_-]{1,64}$/,
} as const;

/** Human-readable range, e.g. `1..150`. */
export function rangeText(range: { readonly min: number; readonly max: number }): string {
  return `${range.min}..${range.max}`;
}
