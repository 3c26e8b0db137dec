/**
 * The base of the bot's stores that keep their records in one of sdbot's KV buckets and read a clock
 * (quota days, update stamps), so tests can pass a fixed one.
 */
import type { KV } from '@nats-io/kv';
import {
  loadConfig,
  openProvisionedBucket,
  type Config,
  type KvResource,
  type NatsConnection,
} from '@sdbot/shared';

export interface BucketStoreOptions {
  /** Whose bucket settings to provision (default: the defaults). */
  config?: Config;
  now?: () => number;
}

export abstract class ClockedBucketStore {
  constructor(
    protected readonly kv: KV,
    protected readonly now: () => number = Date.now,
  ) {}
}

/** Opens the bucket of `resource`, provisioning it with `options.config`'s settings, and a store on it. */
export async function openBucketStore<S extends ClockedBucketStore>(
  connection: NatsConnection,
  resource: KvResource,
  Store: new (kv: KV, now?: () => number) => S,
  options: BucketStoreOptions,
): Promise<S> {
  const config = options.config ?? loadConfig({ env: {} });
  return new Store(await openProvisionedBucket(connection, resource, config), options.now);
}
