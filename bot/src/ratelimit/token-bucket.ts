/**
 * Token-bucket arithmetic. A bucket holds up to `burst` tokens and refills continuously at
 * `perMinute`; a job takes one. State is just the token count at a moment, so any replica can
 * compute the current count from it with its own clock.
 */

export interface BucketState {
  tokens: number;
  /** When `tokens` was measured (ms since the epoch). */
  at: number;
}

export interface BucketLimit {
  perMinute: number;
  burst: number;
}

const MINUTE_MS = 60_000;

/** Tokens available at `now`; a bucket never used is full. */
export function tokensAt(state: BucketState | undefined, limit: BucketLimit, now: number): number {
  if (state === undefined) return limit.burst;
  // A clock behind the writer's (another replica, or an adjusted clock) refills nothing.
  const elapsed = Math.max(0, now - state.at);
  return Math.min(limit.burst, state.tokens + (elapsed * limit.perMinute) / MINUTE_MS);
}

/** Milliseconds until one whole token is available (0 when one is). */
export function msUntilToken(tokens: number, limit: BucketLimit): number {
  return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * MINUTE_MS) / limit.perMinute);
}

/** `42 s`, `1 min 30 s`, `3 min`, rounded up to the second. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}
