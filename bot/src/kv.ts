/**
 * Key-value helpers shared by the settings store and the rate limiter: opening a bucket (creating it
 * the first time, whichever replica gets there first) and compare-and-set updates with retry, which
 * is what keeps several bot replicas consistent without a lock.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { SdbotError, type NatsConnection } from '@sdbot/shared';

export interface OpenBucketOptions {
  /** Stream replicas (SDBOT_JS_REPLICAS); only used when this call creates the bucket. */
  replicas?: number;
  /** Values untouched for this long are dropped (0: kept forever). */
  ttlMs?: number;
}

/** Opens the bucket, creating it if absent; an existing bucket is used as it is configured. */
export async function openBucket(
  connection: NatsConnection,
  name: string,
  { replicas = 1, ttlMs = 0 }: OpenBucketOptions = {},
): Promise<KV> {
  try {
    return await new Kvm(connection).create(name, { history: 1, replicas, ttl: ttlMs });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SdbotError('NATS_UNAVAILABLE', `cannot open KV bucket ${name}: ${reason}`, { cause });
  }
}

/** True when a write lost a compare-and-set race (someone wrote the key since we read it). */
export function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export interface CasUpdate<T> {
  /** Turns the stored entry (null when absent or deleted) into a value. */
  read(entry: KvEntry | null): T;
  /** The new value, or undefined to leave the key as it is. May throw to refuse the change. */
  change(current: T): T | undefined;
  encode(value: T): Uint8Array;
  /** Attempts before giving up under contention (default 100). */
  maxAttempts?: number;
}

export interface CasOutcome<T> {
  before: T;
  after: T;
  /** False when `change` returned undefined and nothing was written. */
  written: boolean;
}

function pause(attempt: number): Promise<void> {
  // Jittered and growing, so replicas that collided do not collide again in lockstep.
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function unavailable(what: string, cause: unknown): SdbotError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SdbotError('NATS_UNAVAILABLE', `cannot ${what}: ${reason}`, { cause });
}

/** The entry if it holds a value (not a delete or purge marker). */
function liveEntry(entry: KvEntry | null): KvEntry | null {
  return entry !== null && entry.operation === 'PUT' ? entry : null;
}

/** The key's current value, or null when absent or deleted. */
export async function readValue(kv: KV, key: string): Promise<Uint8Array | null> {
  const entry = await kv.get(key).catch((cause: unknown) => {
    throw unavailable(`read ${key}`, cause);
  });
  return liveEntry(entry)?.value ?? null;
}

/** Read, change, write-if-unchanged; on a lost race, reads again and retries. */
export async function casUpdate<T>(kv: KV, key: string, update: CasUpdate<T>): Promise<CasOutcome<T>> {
  const maxAttempts = update.maxAttempts ?? 100;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const entry = await kv.get(key).catch((cause: unknown) => {
      throw unavailable(`read ${key}`, cause);
    });
    const before = update.read(liveEntry(entry));
    const after = update.change(before);
    if (after === undefined) return { before, after: before, written: false };
    const data = update.encode(after);
    try {
      // A deleted key keeps a marker with a revision: updating against it is still compare-and-set.
      if (entry === null) await kv.create(key, data);
      else await kv.update(key, data, entry.revision);
      return { before, after, written: true };
    } catch (error) {
      if (!isRevisionConflict(error)) throw unavailable(`write ${key}`, error);
      await pause(attempt);
    }
  }
  throw new SdbotError(
    'NATS_UNAVAILABLE',
    `${key} changed under us ${maxAttempts} times in a row; try again in a moment`,
  );
}
