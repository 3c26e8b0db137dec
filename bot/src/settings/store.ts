/**
 * Guild settings in the settings KV bucket, one key per guild. Reads return the defaults for a guild
 * that never changed anything; writes are compare-and-set, so two admins (or two bot replicas)
 * changing settings at once both land.
 */
import type { KV } from '@nats-io/kv';
import {
  compareAndSet,
  decodeMessage,
  encodeMessage,
  guildSettingsSchema,
  loadConfig,
  openProvisionedBucket,
  PROTOCOL_VERSION,
  readValue,
  type Config,
  type GuildSettings,
  type NatsConnection,
} from '@sdbot/shared';

/** `updatedBy` of settings nobody has changed yet. */
export const DEFAULT_SETTINGS_AUTHOR = 'defaults';

/** The settings of a guild that has set nothing. */
export function defaultGuildSettings(guildId: string): GuildSettings {
  return {
    v: PROTOCOL_VERSION,
    guildId,
    rateLimits: {},
    bannedWords: [],
    allowedChannels: [],
    nsfwPolicy: 'block',
    allowedRoles: [],
    bannedUsers: [],
    channelDefaults: {},
    updatedAt: 0,
    updatedBy: DEFAULT_SETTINGS_AUTHOR,
  };
}

/** A change to a guild's settings; may throw a ValidationError to refuse it. */
export type SettingsChange = (current: GuildSettings) => GuildSettings;

export interface SettingsStoreOptions {
  /** Clock for `updatedAt` (milliseconds since the epoch). */
  now?: () => number;
}

export class GuildSettingsStore {
  private readonly now: () => number;

  constructor(
    private readonly kv: KV,
    options: SettingsStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Opens the settings bucket, provisioning it with `config`'s settings (default: the defaults). */
  static async open(
    connection: NatsConnection,
    options: SettingsStoreOptions & { config?: Config } = {},
  ): Promise<GuildSettingsStore> {
    const config = options.config ?? loadConfig({ env: {} });
    return new GuildSettingsStore(await openProvisionedBucket(connection, 'settings', config), options);
  }

  private read(guildId: string, value: Uint8Array | null): GuildSettings {
    return value === null ? defaultGuildSettings(guildId) : decodeMessage(guildSettingsSchema, value);
  }

  /** The guild's settings, or the defaults when it has none. */
  async get(guildId: string): Promise<GuildSettings> {
    return this.read(guildId, await readValue(this.kv, guildId, `the settings of guild ${guildId}`));
  }

  /**
   * Applies a change with compare-and-set and returns the settings before and after. A change that
   * alters nothing writes nothing.
   */
  async update(
    guildId: string,
    updatedBy: string,
    change: SettingsChange,
  ): Promise<{ before: GuildSettings; after: GuildSettings }> {
    const outcome = await compareAndSet(this.kv, guildId, {
      what: `the settings of guild ${guildId}`,
      maxAttempts: 100,
      read: (entry) => this.read(guildId, entry?.value ?? null),
      change: (current) => {
        const next = change(current);
        if (JSON.stringify(next) === JSON.stringify(current)) return undefined;
        return { ...next, guildId, updatedAt: this.now(), updatedBy };
      },
      encode: (value) => encodeMessage(guildSettingsSchema, value),
    });
    return { before: outcome.before, after: outcome.after };
  }
}
