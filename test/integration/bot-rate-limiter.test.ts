import { Kvm } from '@nats-io/kv';
import { KV_BUCKETS, RATE_LIMIT_STATE_TTL_MS } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { RateLimiter, type AcquireResult } from '../../bot/src/ratelimit/limiter.js';
import { exampleRateLimits } from '../helpers/bot-settings.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { useReplicaConnections } from '../helpers/replica-connections.js';

const available = natsServerAvailable();

const defaults = exampleRateLimits;

/** A clock both replicas read, moved by the test. */
class TestClock {
  value = 1_764_000_000_000;
  readonly now = () => this.value;
  advance(ms: number): void {
    this.value += ms;
  }
}

function admitted(results: AcquireResult[]): number {
  return results.filter((result) => result.ok).length;
}

describe.skipIf(!available)('rate limiter shared by two bot replicas (real nats-server)', () => {
  const nats = useReplicaConnections();

  /** A guild's overrides may only lower the configured limits, so a test that raises one raises the defaults. */
  async function replicas(
    clock: TestClock,
    limits: typeof defaults = defaults,
  ): Promise<[RateLimiter, RateLimiter]> {
    // Both open the bucket: the second open finds it and uses it as it is.
    return [
      await RateLimiter.open(nats.first, { defaults: limits, now: clock.now }),
      await RateLimiter.open(nats.second, { defaults: limits, now: clock.now }),
    ];
  }

  it('admits exactly the guild limit out of 40 simultaneous requests, then refills over time', async () => {
    const clock = new TestClock();
    const [a, b] = await replicas(clock);
    const guildId = '200000000000000001';
    const overrides = { guildJobsPerMinute: 5, guildBurst: 5, guildMaxQueued: 1000 };
    const burst = (round: string, count: number) =>
      Promise.all(
        Array.from({ length: count }, (_, index) =>
          (index % 2 === 0 ? a : b).acquire({
            guildId,
            userId: `${round}-user-${index}`,
            jobId: `${round}-job-${index}`,
            overrides,
          }),
        ),
      );

    const first = await burst('first', 40);
    expect(admitted(first)).toBe(5);
    const refusal = first.find((result) => !result.ok);
    expect(refusal).toEqual({
      ok: false,
      reason: 'guild-rate',
      retryAfterMs: 12_000,
      limit: 5,
      message: "This server's limit is 5 jobs per minute; try again in 12 s.",
    });

    clock.advance(6_000);
    expect(admitted(await burst('half', 10))).toBe(0);
    clock.advance(6_000);
    expect(admitted(await burst('refill', 10))).toBe(1);
    clock.advance(10 * 60_000);
    // A long pause refills to the burst, never beyond it.
    expect(admitted(await burst('later', 20))).toBe(5);
  });

  it('caps each member at their concurrent jobs; releases are idempotent from any replica', async () => {
    const clock = new TestClock();
    const [a, b] = await replicas(clock, { ...defaults, userBurst: 100, userJobsPerMinute: 100 });
    const guildId = '200000000000000002';
    const overrides = { userMaxConcurrent: 2, userBurst: 100, userJobsPerMinute: 100 };
    const ask = (limiter: RateLimiter, jobId: string) =>
      limiter.acquire({ guildId, userId: 'ann', jobId, overrides });

    const one = await ask(a, 'job-1');
    const two = await ask(b, 'job-2');
    expect(one.ok && two.ok).toBe(true);
    expect(await ask(a, 'job-3')).toMatchObject({ ok: false, reason: 'user-concurrency', limit: 2 });
    // Another member is not held back by ann.
    expect((await b.acquire({ guildId, userId: 'bob', jobId: 'job-bob', overrides })).ok).toBe(true);

    // The outcome of job-1 reaches replica b; the duplicate reaches replica a, and a's own handle.
    expect(await b.release({ guildId, jobId: 'job-1' })).toBe(true);
    expect(await a.release({ guildId, jobId: 'job-1' })).toBe(false);
    expect(one.ok && (await one.release())).toBe(false);

    expect((await ask(a, 'job-3')).ok).toBe(true);
    // Had a duplicate release freed a second slot, this would be admitted.
    expect(await ask(b, 'job-4')).toMatchObject({ ok: false, reason: 'user-concurrency' });
    expect(two.ok && (await two.release())).toBe(true);
    expect(two.ok && (await two.release())).toBe(false);
    expect((await ask(b, 'job-4')).ok).toBe(true);
  });

  it('caps the guild queue, counts a retried acquire once, and frees slots whose job never reported', async () => {
    const clock = new TestClock();
    const [a, b] = await replicas(clock);
    const guildId = '200000000000000003';
    const overrides = { guildMaxQueued: 2, guildBurst: 100, guildJobsPerMinute: 100 };
    expect((await a.acquire({ guildId, userId: 'ann', jobId: 'q-1', overrides })).ok).toBe(true);
    expect((await b.acquire({ guildId, userId: 'ann', jobId: 'q-1', overrides })).ok).toBe(true);
    expect((await b.acquire({ guildId, userId: 'bob', jobId: 'q-2', overrides })).ok).toBe(true);
    expect(await a.acquire({ guildId, userId: 'cat', jobId: 'q-3', overrides })).toEqual({
      ok: false,
      reason: 'guild-queue',
      limit: 2,
      message: "This server's limit is 2 jobs queued or running at once; try again when some finish.",
    });
    clock.advance(60 * 60_000);
    expect((await a.acquire({ guildId, userId: 'cat', jobId: 'q-3', overrides })).ok).toBe(true);
  });

  it('keeps direct messages in one scope of their own', async () => {
    const clock = new TestClock();
    const [a] = await replicas(clock, { ...defaults, userMaxConcurrent: 10 });
    const results = [];
    for (let index = 0; index < 4; index++) {
      results.push(
        await a.acquire({
          guildId: null,
          userId: 'dan',
          jobId: `dm-${index}`,
          overrides: { userMaxConcurrent: 10 },
        }),
      );
    }
    expect(results.map((result) => result.ok)).toEqual([true, true, true, false]);
    expect(results[3]).toMatchObject({ reason: 'user-rate', retryAfterMs: 10_000 });
    const kv = await new Kvm(nats.first).open(KV_BUCKETS.rateLimits);
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    expect(keys).toContain('dm');
    // Idle state expires on its own; by then every slot in it has expired too.
    expect((await kv.status()).ttl).toBe(RATE_LIMIT_STATE_TTL_MS);
  });
});
