/**
 * Retries of NATS calls that fail for a passing reason. While a server restarts or a cluster elects
 * a new stream leader, JetStream requests time out or find no responder for a few seconds; every
 * client (imagine, the bot, the worker) waits that out with backoff instead of failing the user's
 * job, within the deadline of what it is doing. Only idempotent operations go through here: reads,
 * and writes de-duplicated by message id.
 */
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { ConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import pRetry, { AbortError } from 'p-retry';
import { SdbotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { natsFailure } from './errors.js';

/** How long a NATS operation keeps retrying when its caller names no deadline. */
export const DEFAULT_RETRY_WINDOW_MS = 30_000;

/** JetStream API status codes that mean "not now": unavailable, timed out, no leader yet. */
const TRANSIENT_STATUS = new Set([408, 503, 504]);
/** JetStream API error codes with the same meaning (system unavailable, cluster not ready). */
const TRANSIENT_API_CODES = new Set([10008, 10009, 10010, 10076]);

/** True for failures that a restart or a leader election explains and that pass on their own. */
export function isTransientNatsError(error: unknown, depth = 0): boolean {
  if (depth > 5 || !(error instanceof Error)) return false;
  if (error instanceof SdbotError) {
    // An SdbotError wrapping a NATS failure keeps it as its cause.
    return error.code === 'NATS_UNAVAILABLE' && isTransientNatsError(error.cause, depth + 1);
  }
  if (error instanceof TimeoutError || error instanceof NoRespondersError) return true;
  // The package exports neither class: JetStream not (yet) enabled after a restart, and the status
  // of a pull or publish answered by a server that is not ready.
  if (error instanceof ConnectionError || error.name === 'JetStreamNotEnabled') return true;
  if (error.name === 'JetStreamStatusError') {
    return TRANSIENT_STATUS.has((error as Error & { code?: number }).code ?? 0);
  }
  if (error instanceof JetStreamApiError) {
    return TRANSIENT_STATUS.has(error.status) || TRANSIENT_API_CODES.has(error.code);
  }
  if (error instanceof RequestError && error.isNoResponders()) return true;
  if (error instanceof RequestError || error instanceof JetStreamError) {
    return isTransientNatsError(error.cause, depth + 1);
  }
  return error.cause !== undefined && isTransientNatsError(error.cause, depth + 1);
}

export interface NatsRetryOptions {
  /** Stop retrying this long after the first attempt (default DEFAULT_RETRY_WINDOW_MS). */
  withinMs?: number;
  /** Stops retrying at once (the job was cancelled, the process is stopping). */
  signal?: AbortSignal;
  logger?: Logger;
  /** First and longest pause between attempts. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Other failures this operation may retry (say, a race it loses only once). */
  alsoRetry?: (error: unknown) => boolean;
}

/**
 * Runs `operation`, again with exponential backoff while it fails transiently, until it succeeds,
 * fails for another reason, `withinMs` passes or `signal` aborts. A failure reaches the caller as an
 * SdbotError naming `doing` (NATS_UNAVAILABLE after the window, PERMISSION_DENIED, NOT_FOUND ...).
 */
export async function withNatsRetry<T>(
  doing: string,
  operation: (attempt: number) => Promise<T>,
  {
    withinMs = DEFAULT_RETRY_WINDOW_MS,
    signal,
    logger,
    minDelayMs = 100,
    maxDelayMs = 2000,
    alsoRetry = () => false,
  }: NatsRetryOptions = {},
): Promise<T> {
  const started = Date.now();
  try {
    return await pRetry(
      async (attempt) => {
        try {
          return await operation(attempt);
        } catch (error) {
          // p-retry retries anything but AbortError; only passing NATS failures deserve another go.
          if (!isTransientNatsError(error) && !alsoRetry(error))
            throw new AbortError(error instanceof Error ? error : String(error));
          throw error;
        }
      },
      {
        retries: Number.MAX_SAFE_INTEGER,
        minTimeout: minDelayMs,
        maxTimeout: maxDelayMs,
        factor: 2,
        randomize: true,
        maxRetryTime: withinMs,
        unref: true,
        ...(signal === undefined ? {} : { signal }),
        onFailedAttempt: ({ error, attemptNumber }) => {
          logger?.warn(
            { doing, attempt: attemptNumber, elapsedMs: Date.now() - started, err: error },
            'nats:retrying',
          );
        },
      },
    );
  } catch (error) {
    if (signal?.aborted === true && !(error instanceof SdbotError)) {
      throw new SdbotError('CANCELLED', `${doing}: stopped`, { cause: error });
    }
    const original = error instanceof AbortError ? error.originalError : error;
    throw natsFailure(original, doing);
  }
}
