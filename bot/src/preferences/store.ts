/**
 * Each member's preferences in the preferences KV bucket, one key per user, kept across servers.
 * Reads return "nothing set" for a member who never used /preferences; writes are compare-and-set.
 */
import type { KV } from '@nats-io/kv';
import {
  decodeMessage,
  encodeMessage,
  KV_BUCKETS,
  PROTOCOL_VERSION,
  userPreferencesSchema,
  type NatsConnection,
  type UserPreferences,
} from '@sdbot/shared';
import { casUpdate, openBucket, readValue, type OpenBucketOptions } from '../kv.js';

/** The preferences of a member who has set nothing. */
export function defaultUserPreferences(userId: string): UserPreferences {
  return { v: PROTOCOL_VERSION, userId, remix: false, updatedAt: 0 };
}

/** A change to a member's preferences; may throw a ValidationError to refuse it. */
export type PreferencesChange = (current: UserPreferences) => UserPreferences;

export class UserPreferencesStore {
  constructor(
    private readonly kv: KV,
    private readonly now: () => number = Date.now,
  ) {}

  static async open(
    connection: NatsConnection,
    options: Pick<OpenBucketOptions, 'replicas'> & { now?: () => number } = {},
  ): Promise<UserPreferencesStore> {
    const bucketOptions: OpenBucketOptions = {};
    if (options.replicas !== undefined) bucketOptions.replicas = options.replicas;
    return new UserPreferencesStore(
      await openBucket(connection, KV_BUCKETS.preferences, bucketOptions),
      options.now,
    );
  }

  private read(userId: string, value: Uint8Array | null): UserPreferences {
    return value === null ? defaultUserPreferences(userId) : decodeMessage(userPreferencesSchema, value);
  }

  async get(userId: string): Promise<UserPreferences> {
    return this.read(userId, await readValue(this.kv, userId));
  }

  /** Applies a change with compare-and-set and returns the preferences after it. */
  async update(userId: string, change: PreferencesChange): Promise<UserPreferences> {
    const outcome = await casUpdate(this.kv, userId, {
      read: (entry) => this.read(userId, entry?.value ?? null),
      change: (current) => {
        const next = change(current);
        if (JSON.stringify(next) === JSON.stringify(current)) return undefined;
        return { ...next, userId, updatedAt: this.now() };
      },
      encode: (value) => encodeMessage(userPreferencesSchema, value),
    });
    return outcome.after;
  }
}
