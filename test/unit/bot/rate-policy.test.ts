import { describe, expect, it } from 'vitest';
import {
  decide,
  effectiveLimits,
  emptyScopeState,
  withoutSlot,
  type RateLimits,
  type ScopeState,
} from '../../../bot/src/ratelimit/policy.js';
import { formatWait, msUntilToken, tokensAt } from '../../../bot/src/ratelimit/token-bucket.js';

const limits: RateLimits = {
  guildJobsPerMinute: 5,
  guildBurst: 5,
  userJobsPerMinute: 2,
  userBurst: 2,
  userMaxConcurrent: 2,
  guildMaxQueued: 4,
};
const lease = 3_600_000;

/** Admits jobs one after another, like a single replica would. */
function run(requests: { userId: string; jobId: string; at: number }[], start = emptyScopeState()) {
  let state: ScopeState = start;
  return requests.map((request) => {
    const decision = decide(state, { ...request, directMessages: false }, limits, request.at, lease);
    if (decision.ok && decision.next !== undefined) state = decision.next;
    return { decision, state };
  });
}

describe('token bucket', () => {
  it('refills continuously up to the burst and says how long until the next token', () => {
    const limit = { perMinute: 5, burst: 5 };
    expect(tokensAt(undefined, limit, 0)).toBe(5);
    expect(tokensAt({ tokens: 0, at: 0 }, limit, 6_000)).toBe(0.5);
    expect(tokensAt({ tokens: 0, at: 0 }, limit, 600_000)).toBe(5);
    expect(tokensAt({ tokens: 1, at: 10_000 }, limit, 0)).toBe(1);
    expect(msUntilToken(0, limit)).toBe(12_000);
    expect(msUntilToken(0.5, limit)).toBe(6_000);
    expect(msUntilToken(1, limit)).toBe(0);
  });

  it('formats waits for people', () => {
    expect(formatWait(1)).toBe('1 s');
    expect(formatWait(41_001)).toBe('42 s');
    expect(formatWait(90_000)).toBe('1 min 30 s');
    expect(formatWait(180_000)).toBe('3 min');
  });
});

describe('rate-limit policy', () => {
  it('puts guild overrides over the configured defaults', () => {
    expect(effectiveLimits(limits, { guildJobsPerMinute: 1, userMaxConcurrent: 1 })).toEqual({
      ...limits,
      guildJobsPerMinute: 1,
      userMaxConcurrent: 1,
    });
  });

  it('caps a stored override by the configured limit when the operator lowered it since', () => {
    const lowered = { ...limits, guildJobsPerMinute: 3, userBurst: 1 };
    // Stored while the configured limits were higher; today's limits win.
    expect(effectiveLimits(lowered, { guildJobsPerMinute: 50, userBurst: 2, guildBurst: 1 })).toEqual({
      ...lowered,
      guildBurst: 1,
    });
  });

  it('refuses a member over their concurrency, naming the limit, until a slot is released', () => {
    const [first, second, third] = run([
      { userId: 'ann', jobId: 'j1', at: 0 },
      { userId: 'ann', jobId: 'j2', at: 0 },
      { userId: 'ann', jobId: 'j3', at: 0 },
    ]);
    expect(first?.decision.ok).toBe(true);
    expect(second?.decision.ok).toBe(true);
    expect(third?.decision).toEqual({
      ok: false,
      reason: 'user-concurrency',
      limit: 2,
      message:
        'You already have 2 jobs queued or running, the most allowed here; try again when one finishes.',
    });
    const released = withoutSlot(third?.state ?? emptyScopeState(), 'j1');
    expect(released).toBeDefined();
    expect(withoutSlot(released ?? emptyScopeState(), 'j1')).toBeUndefined();
    // ann's bucket is now empty, so the concurrency slot is free but her rate is not.
    const [retry] = run([{ userId: 'ann', jobId: 'j3', at: 0 }], released);
    expect(retry?.decision).toMatchObject({ ok: false, reason: 'user-rate', retryAfterMs: 30_000 });
  });

  it('caps the jobs queued or running in the guild', () => {
    const results = run(
      ['a', 'b', 'c', 'd', 'e'].map((userId, index) => ({ userId, jobId: `j${index}`, at: 0 })),
    );
    expect(results.map((result) => result.decision.ok)).toEqual([true, true, true, true, false]);
    expect(results[4]?.decision).toEqual({
      ok: false,
      reason: 'guild-queue',
      limit: 4,
      message: "This server's limit is 4 jobs queued or running at once; try again when some finish.",
    });
  });

  it('reports the guild rate with the time until its next token', () => {
    const roomy = { ...limits, guildMaxQueued: 100 };
    let state = emptyScopeState();
    const outcomes = ['a', 'b', 'c', 'd', 'e', 'f'].map((userId, index) => {
      const decision = decide(
        state,
        { userId, jobId: `j${index}`, directMessages: false },
        roomy,
        1_000,
        lease,
      );
      if (decision.ok && decision.next !== undefined) state = decision.next;
      return decision;
    });
    expect(outcomes.filter((decision) => decision.ok)).toHaveLength(5);
    expect(outcomes[5]).toEqual({
      ok: false,
      reason: 'guild-rate',
      retryAfterMs: 12_000,
      limit: 5,
      message: "This server's limit is 5 jobs per minute; try again in 12 s.",
    });
    const dm = decide(state, { userId: 'f', jobId: 'j9', directMessages: true }, roomy, 1_000, lease);
    expect(dm).toMatchObject({
      message: 'The limit for direct messages is 5 jobs per minute; try again in 12 s.',
    });
  });

  it('admits a job that already holds a slot without charging it again', () => {
    const [first] = run([{ userId: 'ann', jobId: 'j1', at: 0 }]);
    const again = decide(
      first?.state ?? emptyScopeState(),
      { userId: 'ann', jobId: 'j1', directMessages: false },
      limits,
      0,
      lease,
    );
    expect(again).toEqual({ ok: true, next: undefined });
  });

  it('reclaims slots whose job never reported back and forgets full member buckets', () => {
    const [, second] = run([
      { userId: 'ann', jobId: 'j1', at: 0 },
      { userId: 'bob', jobId: 'j2', at: 0 },
    ]);
    const later = decide(
      second?.state ?? emptyScopeState(),
      { userId: 'cat', jobId: 'j3', directMessages: false },
      limits,
      lease,
      lease,
    );
    expect(later.ok).toBe(true);
    if (later.ok) {
      expect(Object.keys(later.next?.active ?? {})).toEqual(['j3']);
      expect(Object.keys(later.next?.users ?? {})).toEqual(['cat']);
    }
  });
});
