/**
 * The rate-limit decision, as a pure function of one scope's state. A scope is a guild (or all
 * direct messages together); its state holds the guild's bucket, each member's bucket and the jobs
 * that hold a slot. Keeping one document per scope makes admitting a job a single compare-and-set:
 * every limit is checked and charged at once, with nothing to undo when a later check fails.
 */
import { z } from 'zod';
import type { Config, GuildSettings } from '@sdbot/shared';
import { formatWait, msUntilToken, tokensAt, type BucketLimit, type BucketState } from './token-bucket.js';

export type RateLimits = Config['rateLimits'];
export type RateLimitOverrides = GuildSettings['rateLimits'];

/**
 * The configured limits with the guild's overrides on top. An override may only lower a limit (the
 * settings command refuses more than the configured value), and it is capped again here because the
 * operator may have lowered the configured limit since the override was stored.
 */
export function effectiveLimits(defaults: RateLimits, overrides: RateLimitOverrides = {}): RateLimits {
  const capped = (field: keyof RateLimits): number =>
    Math.min(overrides[field] ?? defaults[field], defaults[field]);
  return {
    guildJobsPerMinute: capped('guildJobsPerMinute'),
    guildBurst: capped('guildBurst'),
    userJobsPerMinute: capped('userJobsPerMinute'),
    userBurst: capped('userBurst'),
    userMaxConcurrent: capped('userMaxConcurrent'),
    guildMaxQueued: capped('guildMaxQueued'),
  };
}

const bucketSchema = z.object({ tokens: z.number().min(0), at: z.number() });

export const scopeStateSchema = z.object({
  v: z.literal(1),
  guild: bucketSchema.optional(),
  users: z.record(z.string(), bucketSchema),
  /** Jobs holding a slot (queued or running), by job id. */
  active: z.record(z.string(), z.object({ userId: z.string(), at: z.number() })),
});
export type ScopeState = z.infer<typeof scopeStateSchema>;

export function emptyScopeState(): ScopeState {
  return { v: 1, users: {}, active: {} };
}

export const RATE_LIMIT_REASONS = ['user-concurrency', 'guild-queue', 'user-rate', 'guild-rate'] as const;
export type RateLimitReason = (typeof RATE_LIMIT_REASONS)[number];

export interface RateLimitRefusal {
  ok: false;
  reason: RateLimitReason;
  /** When a retry can succeed; absent when that depends on a job finishing. */
  retryAfterMs?: number;
  /** The limit that refused (jobs per minute, or jobs at once). */
  limit: number;
  /** What to tell the user, e.g. "This server's limit is 5 jobs per minute; try again in 42 s." */
  message: string;
}

export interface AdmitRequest {
  userId: string;
  jobId: string;
  /** True for direct messages, which share one scope; only changes the wording. */
  directMessages: boolean;
}

export type Decision = { ok: true; next: ScopeState | undefined } | RateLimitRefusal;

function jobs(count: number): string {
  return `${count} job${count === 1 ? '' : 's'}`;
}

function pruned(state: ScopeState, limits: RateLimits, now: number, slotLeaseMs: number): ScopeState {
  const active = Object.fromEntries(
    Object.entries(state.active).filter(([, slot]) => now - slot.at < slotLeaseMs),
  );
  const busyUsers = new Set(Object.values(active).map((slot) => slot.userId));
  const userLimit: BucketLimit = { perMinute: limits.userJobsPerMinute, burst: limits.userBurst };
  // A full bucket says nothing an absent one does not: dropping it keeps the document small.
  const users = Object.fromEntries(
    Object.entries(state.users).filter(
      ([userId, bucket]) => busyUsers.has(userId) || tokensAt(bucket, userLimit, now) < userLimit.burst,
    ),
  );
  return { ...state, users, active };
}

/**
 * Admits the job (returning the state to store, or undefined when the job already holds a slot) or
 * refuses it. Slots whose job never reported back are reclaimed after `slotLeaseMs`.
 */
export function decide(
  state: ScopeState,
  request: AdmitRequest,
  limits: RateLimits,
  now: number,
  slotLeaseMs: number,
): Decision {
  if (state.active[request.jobId] !== undefined) return { ok: true, next: undefined };
  const current = pruned(state, limits, now, slotLeaseMs);
  const scope = request.directMessages ? 'The limit for direct messages' : "This server's limit";

  const mine = Object.values(current.active).filter((slot) => slot.userId === request.userId).length;
  if (mine >= limits.userMaxConcurrent) {
    return {
      ok: false,
      reason: 'user-concurrency',
      limit: limits.userMaxConcurrent,
      message: `You already have ${jobs(mine)} queued or running, the most allowed here; try again when one finishes.`,
    };
  }
  const queued = Object.keys(current.active).length;
  if (queued >= limits.guildMaxQueued) {
    return {
      ok: false,
      reason: 'guild-queue',
      limit: limits.guildMaxQueued,
      message: `${scope} is ${jobs(limits.guildMaxQueued)} queued or running at once; try again when some finish.`,
    };
  }

  const userLimit: BucketLimit = { perMinute: limits.userJobsPerMinute, burst: limits.userBurst };
  const guildLimit: BucketLimit = { perMinute: limits.guildJobsPerMinute, burst: limits.guildBurst };
  const userTokens = tokensAt(current.users[request.userId], userLimit, now);
  const guildTokens = tokensAt(current.guild, guildLimit, now);
  const userWait = msUntilToken(userTokens, userLimit);
  const guildWait = msUntilToken(guildTokens, guildLimit);
  // With both empty, the longer wait is the one worth reporting.
  if (guildWait > 0 && guildWait >= userWait) {
    return {
      ok: false,
      reason: 'guild-rate',
      retryAfterMs: guildWait,
      limit: limits.guildJobsPerMinute,
      message: `${scope} is ${jobs(limits.guildJobsPerMinute)} per minute; try again in ${formatWait(guildWait)}.`,
    };
  }
  if (userWait > 0) {
    return {
      ok: false,
      reason: 'user-rate',
      retryAfterMs: userWait,
      limit: limits.userJobsPerMinute,
      message: `Your limit here is ${jobs(limits.userJobsPerMinute)} per minute; try again in ${formatWait(userWait)}.`,
    };
  }
  const taken = (tokens: number): BucketState => ({ tokens: tokens - 1, at: now });
  return {
    ok: true,
    next: {
      ...current,
      guild: taken(guildTokens),
      users: { ...current.users, [request.userId]: taken(userTokens) },
      active: { ...current.active, [request.jobId]: { userId: request.userId, at: now } },
    },
  };
}

/** The state without the job's slot, or undefined when it holds none (already released). */
export function withoutSlot(state: ScopeState, jobId: string): ScopeState | undefined {
  if (state.active[jobId] === undefined) return undefined;
  const active = Object.fromEntries(Object.entries(state.active).filter(([id]) => id !== jobId));
  return { ...state, active };
}
