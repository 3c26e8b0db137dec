/**
 * Daily image quotas per member of a server and per server, counted in images (a job of four
 * counts four), shared by every bot replica through compare-and-set counters in the quotas KV
 * bucket, and reset at 00:00 UTC (each day has its own keys, which expire after two days).
 */
import { compareAndSet, readEntry, type NatsConnection } from '@sdbot/shared';
import { ClockedBucketStore, openBucketStore, type BucketStoreOptions } from '../bucket-store.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface DailyLimits {
  /** Images each member may make per day in this server; undefined: no quota. */
  user?: number;
  /** Images the whole server may make per day; undefined: no quota. */
  server?: number;
}

export interface QuotaScope {
  guildId: string;
  userId: string;
}

export interface QuotaUsage {
  user: number;
  server: number;
  /** When today's counts start again from zero (ms since the epoch). */
  resetsAt: number;
}

export type QuotaGrant =
  | { ok: true; usage: QuotaUsage }
  | { ok: false; which: 'user' | 'server'; limit: number; usage: QuotaUsage; message: string };

/** `2026-12-06`: the UTC day a moment falls in. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

export function nextUtcMidnight(now: number): number {
  return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
}

/** `3 h 12 min`, for "resets in ...". */
export function describeWait(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  const hours = Math.floor(minutes / 60);
  return hours === 0 ? `${minutes} min` : `${hours} h ${minutes % 60} min`;
}

function decodeCount(value: Uint8Array | undefined): number {
  if (value === undefined) return 0;
  const count = Number(new TextDecoder().decode(value));
  // A value that is not a count (written by hand, say) counts as nothing used rather than failing.
  return Number.isSafeInteger(count) && count >= 0 ? count : 0;
}

const encodeCount = (count: number) => new TextEncoder().encode(String(count));

export class DailyQuota extends ClockedBucketStore {
  /** Opens the quotas bucket, provisioning it with `config`'s settings (default: the defaults). */
  static open(connection: NatsConnection, options: BucketStoreOptions = {}): Promise<DailyQuota> {
    return openBucketStore(connection, 'quotas', DailyQuota, options);
  }

  private keys({ guildId, userId }: QuotaScope, now: number) {
    const day = utcDay(now);
    return { user: `${day}.${guildId}.${userId}`, server: `${day}.${guildId}` };
  }

  private async read(key: string): Promise<number> {
    const entry = await readEntry(this.kv, key, `the quota count ${key}`);
    return entry !== null && entry.operation === 'PUT' ? decodeCount(entry.value) : 0;
  }

  /** Today's counts for a member and their server. */
  async usage(scope: QuotaScope): Promise<QuotaUsage> {
    const now = this.now();
    const keys = this.keys(scope, now);
    const [user, server] = await Promise.all([this.read(keys.user), this.read(keys.server)]);
    return { user, server, resetsAt: nextUtcMidnight(now) };
  }

  /** Adds `images` to a counter unless that would pass `limit`; the count before and after. */
  private async add(key: string, images: number, limit: number | undefined) {
    return compareAndSet(this.kv, key, {
      what: `the quota count ${key}`,
      maxAttempts: 100,
      read: (entry) => decodeCount(entry?.value),
      change: (count) => {
        if (limit !== undefined && count + images > limit) return undefined;
        return count + images;
      },
      encode: encodeCount,
    });
  }

  /**
   * Counts `images` against both quotas, or neither: each counter is compare-and-set, so replicas
   * together never admit more than a quota; when the server's count refuses, the member's is given back.
   */
  async reserve(scope: QuotaScope, images: number, limits: DailyLimits): Promise<QuotaGrant> {
    const now = this.now();
    if (limits.user === undefined && limits.server === undefined) {
      return { ok: true, usage: { user: 0, server: 0, resetsAt: nextUtcMidnight(now) } };
    }
    const keys = this.keys(scope, now);
    const resetsAt = nextUtcMidnight(now);
    const refuse = (which: 'user' | 'server', limit: number, usage: QuotaUsage): QuotaGrant => {
      const whose = which === 'user' ? 'You have' : 'This server has';
      const used = which === 'user' ? usage.user : usage.server;
      return {
        ok: false,
        which,
        limit,
        usage,
        message:
          `${whose} used ${used} of ${limit} images today; ${images} more would pass the daily quota. ` +
          `It resets at 00:00 UTC (in ${describeWait(resetsAt - now)}).`,
      };
    };
    const user = await this.add(keys.user, images, limits.user);
    if (!user.written) {
      return refuse('user', limits.user ?? 0, {
        user: user.before,
        server: await this.read(keys.server),
        resetsAt,
      });
    }
    const server = await this.add(keys.server, images, limits.server);
    if (!server.written) {
      await this.add(keys.user, -images, undefined);
      return refuse('server', limits.server ?? 0, { user: user.before, server: server.before, resetsAt });
    }
    return { ok: true, usage: { user: user.after, server: server.after, resetsAt } };
  }

  /** Gives back images of a job that was never submitted. */
  async release(scope: QuotaScope, images: number, limits: DailyLimits): Promise<void> {
    if (limits.user === undefined && limits.server === undefined) return;
    const keys = this.keys(scope, this.now());
    await this.add(keys.user, -images, undefined);
    await this.add(keys.server, -images, undefined);
  }
}
