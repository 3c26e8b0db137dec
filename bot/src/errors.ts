/**
 * Errors of the bot package and their rendering as ephemeral replies. Codes come from shared, so a
 * refusal logged here reads the same as one reported by a worker.
 */
import { RateLimitError, SdbotError, ValidationError, redactText } from '@sdbot/shared';

export const REFUSAL_REASONS = [
  'banned-word',
  'channel-not-allowed',
  /** The member lacks the permission (Manage Server, Manage Messages) or is not the requester. */
  'not-permitted',
  /** A button's job or image is gone (expired) or not finished. */
  'result-unavailable',
  /** The image was withheld by the safety filter. */
  'image-withheld',
  /** Cancelling a job that already ended. */
  'already-finished',
  /** A server-only command used in a direct message. */
  'guild-only',
  /** The member is on the server's ban list. */
  'user-banned',
  /** The server lets only some roles create jobs, and the member has none of them. */
  'role-not-allowed',
  /** The member's or the server's daily image quota is used up. */
  'daily-quota',
  /** A flagged image's button where the same job would not be allowed now. */
  'nsfw-not-allowed',
  /** An image given to the bot that it will not use: not from Discord, not an image, too large. */
  'attachment-refused',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** A request that is well-formed but that this guild's settings do not allow. */
export class RequestRefusedError extends SdbotError {
  override name = 'RequestRefusedError';

  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super('INVALID_INPUT', message);
  }
}

/** Discord refuses message content longer than this. */
const MESSAGE_MAX_CHARS = 2000;

function clip(text: string): string {
  return text.length <= MESSAGE_MAX_CHARS ? text : `${text.slice(0, MESSAGE_MAX_CHARS - 1)}…`;
}

/**
 * What a Discord user is told about a failure. Their own mistakes and refusals are spelled out;
 * anything else gets only its code, because internal messages name hosts and files.
 */
export function userMessage(error: unknown): string {
  if (error instanceof ValidationError) {
    const lines = error.issues.map((issue) => `${issue.field}: ${issue.message}`);
    return clip(
      lines.length === 1 ? (lines[0] ?? error.message) : lines.map((line) => `• ${line}`).join('\n'),
    );
  }
  if (error instanceof RequestRefusedError || error instanceof RateLimitError) {
    return clip(redactText(error.message));
  }
  if (error instanceof SdbotError && error.retryable) {
    return `Something went wrong on my side (${error.code}); please try again in a moment.`;
  }
  const code = error instanceof SdbotError ? error.code : 'INTERNAL';
  return `Something went wrong on my side (${code}); the bot's operator can find the details in its logs.`;
}
