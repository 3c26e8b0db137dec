/**
 * Deadlines for the NATS calls a job makes: each one gives up after its deadline (TIMEOUT, which
 * the failure policy retries) or as soon as the job is aborted (cancelled, timed out, shutting
 * down), so no single read or write can hold a worker slot.
 */
import { SdbotError } from '@sdbot/shared';

/** Bounds on the deadline of one NATS operation of a job. */
const MIN_OPERATION_MS = 1000;
const MAX_OPERATION_MS = 30_000;

/** What every NATS call of one job is bounded by. */
export interface JobDeadline {
  /** The job's abort signal: cancellation, SDBOT_JOB_TIMEOUT, shutdown. */
  signal: AbortSignal;
  /** Longest time one operation may take. */
  operationMs: number;
}

/**
 * The deadline of one operation: half the ack wait (an operation slower than that risks the job
 * being redelivered under us anyway), within 1..30 s.
 */
export function operationDeadlineMs(ackWaitMs: number): number {
  return Math.min(MAX_OPERATION_MS, Math.max(MIN_OPERATION_MS, Math.floor(ackWaitMs / 2)));
}

/**
 * Runs `work` until it settles, `deadline.operationMs` passes (TIMEOUT naming `what`) or the job is
 * aborted (rejects with the abort reason); the work itself runs on unobserved. One timer and one
 * listener a call: every NATS call of a job goes through here.
 */
export async function withDeadline<T>(
  what: string,
  deadline: JobDeadline,
  work: () => Promise<T>,
): Promise<T> {
  const { signal, operationMs } = deadline;
  if (signal.aborted) throw abortReason(signal);
  let end = (): void => undefined;
  const stopped = new Promise<never>((_, reject) => {
    const onAbort = (): void => {
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      reject(new SdbotError('TIMEOUT', `${what}: no answer within ${operationMs} ms`));
    }, operationMs);
    signal.addEventListener('abort', onAbort, { once: true });
    end = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
  });
  try {
    const running = work();
    // Observed even when the deadline wins the race, so a late failure is never unhandled.
    running.catch(() => undefined);
    return await Promise.race([running, stopped]);
  } finally {
    end();
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts (the promise runs on). */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // Observed even when the abort wins the race, so a late failure is never unhandled.
  promise.catch(() => undefined);
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(abortReason(signal));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new SdbotError('CANCELLED', 'aborted');
}
