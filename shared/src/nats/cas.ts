/**
 * Compare-and-set on a KV key: read, decide, write only if nobody wrote in between, else read again
 * and decide again. Every read-modify-write of sdbot's shared state goes through here (job state,
 * guild settings, rate limits, deliveries, the dispatch cursor), so several bot replicas, workers
 * and CLIs stay consistent without a lock.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { SdbotError } from '../errors.js';
import { isRevisionConflict, natsFailure } from './errors.js';
import { withNatsRetry } from './retry.js';

/** What a process last read or wrote, so its next compare-and-set can skip the read. */
export interface KnownValue<T> {
  value: T;
  revision: number;
}

/** `T`: what a read gives (it may stand for "absent"); `U`: what may be written. */
export interface CompareAndSet<T, U extends T = T> {
  /** The stored entry as a value; `entry` is null when the key is absent or deleted. */
  read(entry: KvEntry | null): T;
  /** The value to store, or undefined to leave the key alone. May throw to refuse the change. */
  change(current: T): U | undefined;
  encode(value: U): Uint8Array;
  /** Names the key in errors, e.g. "the state of job job-1" (default: the key). */
  what?: string;
  /** Attempts before giving up under contention (default 20). */
  maxAttempts?: number;
  /** The first attempt decides on this instead of reading; null: known to be absent. */
  known?: KnownValue<T> | null;
}

export interface CompareAndSetResult<T> {
  before: T;
  after: T;
  /** False when `change` returned undefined and nothing was written. */
  written: boolean;
  /** The key's revision after this call (null when absent and nothing was written). */
  revision: number | null;
}

/** Other writers won the race on one key every time. */
export class ContentionError extends SdbotError {
  override name = 'ContentionError';

  constructor(
    readonly what: string,
    readonly attempts: number,
  ) {
    super('NATS_UNAVAILABLE', `${what} changed under us ${attempts} times in a row; try again in a moment`);
  }
}

const DEFAULT_MAX_ATTEMPTS = 20;

/** The entry if it holds a value (not a delete or purge marker). */
function liveEntry(entry: KvEntry | null): KvEntry | null {
  return entry?.operation === 'PUT' ? entry : null;
}

/**
 * The key's entry (null when absent), with a NATS failure named after `what`; timeouts while a
 * server restarts or a leader is elected are retried (see retry.ts).
 */
export async function readEntry(kv: KV, key: string, what = key): Promise<KvEntry | null> {
  return withNatsRetry(`reading ${what}`, () => kv.get(key));
}

/** The key's current value, or null when absent or deleted. */
export async function readValue(kv: KV, key: string, what = key): Promise<Uint8Array | null> {
  return liveEntry(await readEntry(kv, key, what))?.value ?? null;
}

function pause(attempt: number): Promise<void> {
  // Jittered and growing, so writers that collided do not collide again in lockstep.
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Read, change, write-if-unchanged; on a lost race, reads again and retries. A NATS failure that
 * passes (a restart, a leader election) starts over from a fresh read, with backoff: a write that
 * timed out may have been stored, and `change` then decides on what is there.
 */
export async function compareAndSet<T, U extends T = T>(
  kv: KV,
  key: string,
  update: CompareAndSet<T, U>,
): Promise<CompareAndSetResult<T>> {
  const what = update.what ?? key;
  return withNatsRetry(`writing ${what}`, (attempt) =>
    compareAndSetOnce(kv, key, update, what, attempt === 1 ? update.known : undefined),
  );
}

async function compareAndSetOnce<T, U extends T = T>(
  kv: KV,
  key: string,
  update: CompareAndSet<T, U>,
  what: string,
  knownAtStart: KnownValue<T> | null | undefined,
): Promise<CompareAndSetResult<T>> {
  const maxAttempts = update.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  let known = knownAtStart;
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    let before: T;
    let revision: number | null;
    if (known === undefined) {
      let entry: KvEntry | null;
      try {
        entry = await kv.get(key);
      } catch (error) {
        throw natsFailure(error, `reading ${what}`);
      }
      before = update.read(liveEntry(entry));
      // A deleted key keeps a marker with a revision: updating against it is still compare-and-set.
      revision = entry?.revision ?? null;
    } else {
      before = known === null ? update.read(null) : known.value;
      revision = known?.revision ?? null;
    }
    const after = update.change(before);
    if (after === undefined) return { before, after: before, written: false, revision };
    const data = update.encode(after);
    try {
      const written = revision === null ? await kv.create(key, data) : await kv.update(key, data, revision);
      return { before, after, written: true, revision: written };
    } catch (error) {
      if (!isRevisionConflict(error)) throw natsFailure(error, `writing ${what}`);
      // Someone else wrote in between (or what we knew was stale): read and decide again.
      known = undefined;
      await pause(attempt);
    }
  }
  throw new ContentionError(what, maxAttempts);
}
