/**
 * Each member's preferences in the preferences KV bucket, one key per user, kept across servers.
 * Reads return "nothing set" for a member who never used /preferences; writes are compare-and-set.
 */
import {
  compareAndSet,
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  readValue,
  userPreferencesSchema,
  type NatsConnection,
  type UserPreferences,
} from '@sdbot/shared';
import { ClockedBucketStore, openBucketStore, type BucketStoreOptions } from '../bucket-store.js';

/** The preferences of a member who has set nothing. */
export function defaultUserPreferences(userId: string): UserPreferences {
  return { v: PROTOCOL_VERSION, userId, remix: false, updatedAt: 0 };
}

/** A change to a member's preferences; may throw a ValidationError to refuse it. */
export type PreferencesChange = (current: UserPreferences) => UserPreferences;

export class UserPreferencesStore extends ClockedBucketStore {
  /** Opens the preferences bucket, provisioning it with `config`'s settings (default: the defaults). */
  static open(connection: NatsConnection, options: BucketStoreOptions = {}): Promise<UserPreferencesStore> {
    return openBucketStore(connection, 'preferences', UserPreferencesStore, options);
  }

  private read(userId: string, value: Uint8Array | null): UserPreferences {
    return value === null ? defaultUserPreferences(userId) : decodeMessage(userPreferencesSchema, value);
  }

  async get(userId: string): Promise<UserPreferences> {
    return this.read(userId, await readValue(this.kv, userId, `the preferences of user ${userId}`));
  }

  /** Applies a change with compare-and-set and returns the preferences after it. */
  async update(userId: string, change: PreferencesChange): Promise<UserPreferences> {
    const outcome = await compareAndSet(this.kv, userId, {
      what: `the preferences of user ${userId}`,
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
