/** Retrying hub calls and transfers that fail on the network, with a growing, jittered delay. */
import { setTimeout as sleep } from 'node:timers/promises';
import { SdbotError } from '@sdbot/shared';

export interface RetryPolicy {
  /** Tries per file (and per hub API call) before giving up on network errors. */
  attempts: number;
  /** First backoff delay; it doubles with each failure (with jitter), up to 30 s. */
  baseDelayMs: number;
}

export async function withRetries<T>(
  operation: () => Promise<T>,
  retry: RetryPolicy,
  signal: AbortSignal,
  onRetry: (reason: string, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (signal.aborted || !(error instanceof SdbotError) || !error.retryable || attempt >= retry.attempts) {
        throw error;
      }
      const delayMs = backoffDelay(attempt, retry.baseDelayMs);
      onRetry(error.message, attempt + 1, delayMs);
      await sleep(delayMs, undefined, { signal });
    }
  }
}

/** Doubles with each failure, capped at 30 s, with ±20% jitter so parallel files spread out. */
export function backoffDelay(failures: number, baseDelayMs: number): number {
  const delay = Math.min(baseDelayMs * 2 ** (failures - 1), 30_000);
  return Math.round(delay * (0.8 + Math.random() * 0.4));
}

export function retryable(message: string, cause?: unknown): SdbotError {
  return new SdbotError('DOWNLOAD_FAILED', message, { retryable: true, cause });
}
