/**
 * Rate limits shared by every bot replica: per-guild and per-member token buckets, a cap on each
 * member's queued-or-running jobs and on the guild's. State lives in the rate-limits KV bucket, one
 * key per guild, changed only by compare-and-set, so replicas racing for the last token cannot
 * both get it.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import {
  compareAndSet,
  loadConfig,
  openProvisionedBucket,
  parseOrNull,
  RATE_LIMIT_STATE_TTL_MS,
  readValue,
  type Config,
  type NatsConnection,
} from '@sdbot/shared';
import {
  decide,
  effectiveLimits,
  emptyScopeState,
  scopeStateSchema,
  withoutSlot,
  type RateLimitOverrides,
  type RateLimitRefusal,
  type RateLimits,
  type ScopeState,
} from './policy.js';

/** Default time after which a slot whose job never reported back is freed. */
export const DEFAULT_SLOT_LEASE_MS = 60 * 60 * 1000;

/** Key of the state shared by all direct messages. */
const DIRECT_MESSAGES_KEY = 'dm';

export interface RateLimiterOptions {
  /** Configured limits (the `rateLimits` config group); guild overrides go on top per request. */
  defaults: RateLimits;
  now?: () => number;
  /** A slot whose job never reports an outcome is freed after this long (at most a day). */
  slotLeaseMs?: number;
  /** Compare-and-set attempts before giving up under contention. */
  maxAttempts?: number;
}

export interface SlotRef {
  /** Null for direct messages. */
  guildId: string | null;
  jobId: string;
}

export interface AcquireRequest extends SlotRef {
  userId: string;
  /** The guild's `rateLimits` settings. */
  overrides?: RateLimitOverrides;
}

export interface RateLimitGrant {
  ok: true;
  /** Frees the job's slot; resolves false when it was already freed. Safe to call repeatedly. */
  release(): Promise<boolean>;
}

export type AcquireResult = RateLimitGrant | RateLimitRefusal;

/** A job holding a slot: queued or running. */
export interface ActiveJob {
  jobId: string;
  userId: string;
  /** When the slot was taken. */
  at: number;
}

function keyOf(guildId: string | null): string {
  return guildId === null ? DIRECT_MESSAGES_KEY : `guild.${guildId}`;
}

/** State that cannot be read (corrupt, or written by a newer version) only means fresh buckets. */
function decodeScopeState(value: Uint8Array): ScopeState {
  return parseOrNull(scopeStateSchema, value) ?? emptyScopeState();
}

export class RateLimiter {
  private readonly defaults: RateLimits;
  private readonly now: () => number;
  private readonly slotLeaseMs: number;
  private readonly maxAttempts: number | undefined;

  constructor(
    private readonly kv: KV,
    options: RateLimiterOptions,
  ) {
    this.defaults = options.defaults;
    this.now = options.now ?? Date.now;
    this.slotLeaseMs = options.slotLeaseMs ?? DEFAULT_SLOT_LEASE_MS;
    this.maxAttempts = options.maxAttempts;
    if (this.slotLeaseMs > RATE_LIMIT_STATE_TTL_MS) {
      throw new RangeError(
        `slotLeaseMs must be at most ${RATE_LIMIT_STATE_TTL_MS} (the state's time to live)`,
      );
    }
  }

  /** Opens the rate-limits bucket, provisioning it with `config`'s settings (default: the defaults). */
  static async open(
    connection: NatsConnection,
    options: RateLimiterOptions & { config?: Config },
  ): Promise<RateLimiter> {
    const config = options.config ?? loadConfig({ env: {} });
    return new RateLimiter(await openProvisionedBucket(connection, 'rateLimits', config), options);
  }

  private update(guildId: string | null, change: (state: ScopeState) => ScopeState | undefined) {
    const update = {
      read: (entry: KvEntry | null) => (entry === null ? emptyScopeState() : decodeScopeState(entry.value)),
      change,
      encode: (state: ScopeState) => new TextEncoder().encode(JSON.stringify(state)),
    };
    return compareAndSet(this.kv, keyOf(guildId), {
      ...update,
      what: `the rate limits of ${guildId === null ? 'direct messages' : `guild ${guildId}`}`,
      maxAttempts: this.maxAttempts ?? 100,
    });
  }

  /**
   * Takes a slot and a token from each bucket for the job, or says why not and when to retry.
   * Acquiring again for a job that holds a slot succeeds without charging twice.
   */
  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const limits = effectiveLimits(this.defaults, request.overrides);
    let refusal: RateLimitRefusal | undefined;
    await this.update(request.guildId, (state) => {
      const decision = decide(
        state,
        { userId: request.userId, jobId: request.jobId, directMessages: request.guildId === null },
        limits,
        this.now(),
        this.slotLeaseMs,
      );
      refusal = decision.ok ? undefined : decision;
      return decision.ok ? decision.next : undefined;
    });
    if (refusal !== undefined) return refusal;
    let released = false;
    const slot: SlotRef = { guildId: request.guildId, jobId: request.jobId };
    return {
      ok: true,
      release: async () => {
        if (released) return false;
        released = true;
        return this.release(slot);
      },
    };
  }

  /**
   * Frees a job's slot when it finished, failed or was cancelled. Any replica may call it (the
   * outcome may reach a different one); resolves false when the slot was already free, so a
   * duplicated outcome never frees someone else's slot.
   */
  async release(slot: SlotRef): Promise<boolean> {
    const outcome = await this.update(slot.guildId, (state) => withoutSlot(state, slot.jobId));
    return outcome.written;
  }

  /** The jobs holding a slot in a guild (null: direct messages), oldest first, for /queue. */
  async activeJobs(guildId: string | null): Promise<ActiveJob[]> {
    const value = await readValue(this.kv, keyOf(guildId));
    const state = value === null ? emptyScopeState() : decodeScopeState(value);
    const now = this.now();
    return Object.entries(state.active)
      .filter(([, slot]) => now - slot.at < this.slotLeaseMs)
      .map(([jobId, slot]) => ({ jobId, userId: slot.userId, at: slot.at }))
      .sort((a, b) => a.at - b.at);
  }
}
