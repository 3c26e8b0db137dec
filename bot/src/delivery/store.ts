/**
 * What the bot still owes Discord, in the deliveries KV bucket, so a result survives a bot restart
 * and is posted once even with several replicas:
 *
 * - `job.<jobId>`: a job whose outcome has not been posted yet: where to post it, and which bot
 *   instance follows it (`owner`). A replica takes the right to post with a compare-and-set claim;
 *   once posted, the key is purged, so a late or duplicated outcome finds nothing to deliver.
 * - `instance.<id>`: a heartbeat per running bot instance. Jobs of an instance that stopped or went
 *   silent are adopted by another one (compare-and-set on `owner`), which then delivers them to the
 *   channel with the bot token, since the interaction token lived only in the old process.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import {
  compareAndSet,
  deliveryRecordSchema,
  instanceRecordSchema,
  KV_BUCKETS,
  kvStreamName,
  kvSubject,
  loadConfig,
  natsFailure,
  openProvisionedBucket,
  parseOrNull,
  readEntry,
  type Config,
  type DeliveryRecord,
  type InstanceRecord,
  type NatsConnection,
} from '@sdbot/shared';
import type { z } from 'zod';

const JOB_PREFIX = 'job.';
const INSTANCE_PREFIX = 'instance.';
const STREAM = kvStreamName(KV_BUCKETS.deliveries);
const SUBJECT_PREFIX = kvSubject(KV_BUCKETS.deliveries, '');

export type ClaimResult =
  | { type: 'claimed'; record: DeliveryRecord }
  /** Someone else posted it (or the record expired): nothing to do. */
  | { type: 'gone' }
  /** Another instance is posting it; try again after `retryAfterMs` in case it died meanwhile. */
  | { type: 'held'; retryAfterMs: number };

function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function decode<S extends z.ZodType>(schema: S, entry: KvEntry | null): z.output<S> | null {
  return entry?.operation === 'PUT' ? parseOrNull(schema, entry.value) : null;
}

export interface DeliveryStoreOptions {
  /** The bucket's settings (replicas; records live as long as job state). Default: the defaults. */
  config?: Config;
}

export class DeliveryStore {
  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
  ) {}

  static async open(connection: NatsConnection, options: DeliveryStoreOptions = {}): Promise<DeliveryStore> {
    const kv = await openProvisionedBucket(
      connection,
      'deliveries',
      options.config ?? loadConfig({ env: {} }),
    );
    const jsm = await jetstreamManager(connection).catch((cause: unknown) => {
      throw natsFailure(cause, 'opening JetStream');
    });
    return new DeliveryStore(kv, jsm);
  }

  private entry(key: string): Promise<KvEntry | null> {
    return readEntry(this.kv, key);
  }

  async create(record: DeliveryRecord): Promise<void> {
    try {
      await this.kv.create(JOB_PREFIX + record.jobId, encode(deliveryRecordSchema.parse(record)));
    } catch (cause) {
      throw natsFailure(cause, `recording the delivery of job ${record.jobId}`);
    }
  }

  async get(jobId: string): Promise<DeliveryRecord | null> {
    return decode(deliveryRecordSchema, await this.entry(JOB_PREFIX + jobId));
  }

  /**
   * Applies `change` with compare-and-set; undefined from `change` leaves the record as it is, and
   * a record that is gone (posted, expired) stays gone.
   */
  private async change(
    jobId: string,
    change: (current: DeliveryRecord) => DeliveryRecord | undefined,
  ): Promise<{ record: DeliveryRecord | null; written: boolean }> {
    const { after, written } = await compareAndSet<DeliveryRecord | null, DeliveryRecord>(
      this.kv,
      JOB_PREFIX + jobId,
      {
        what: `the delivery of job ${jobId}`,
        read: (entry) => decode(deliveryRecordSchema, entry),
        change: (current) => (current === null ? undefined : change(current)),
        encode,
      },
    );
    return { record: after, written };
  }

  /**
   * Takes the right to post the job's outcome. A claim older than `leaseMs` belongs to an instance
   * that died while posting, so it can be taken over.
   */
  async claim(jobId: string, instanceId: string, now: number, leaseMs: number): Promise<ClaimResult> {
    let heldFor = 0;
    const { record, written } = await this.change(jobId, (current) => {
      const claim = current.claim;
      if (claim !== undefined && claim.by !== instanceId && now - claim.at < leaseMs) {
        heldFor = leaseMs - (now - claim.at);
        return undefined;
      }
      return { ...current, claim: { by: instanceId, at: now } };
    });
    if (record === null) return { type: 'gone' };
    return written ? { type: 'claimed', record } : { type: 'held', retryAfterMs: heldFor };
  }

  /** Gives a claim back after a failed post, so a later attempt (by anyone) can post. */
  async releaseClaim(jobId: string, instanceId: string): Promise<void> {
    await this.change(jobId, (current) => {
      if (current.claim?.by !== instanceId) return undefined;
      const { claim: _released, ...rest } = current;
      return rest;
    });
  }

  /** Makes `to` the owner if `from` still is; false when someone else adopted it first. */
  async adopt(jobId: string, from: string, to: string): Promise<DeliveryRecord | null> {
    const { record, written } = await this.change(jobId, (current) =>
      current.owner === from ? { ...current, owner: to } : undefined,
    );
    return written ? record : null;
  }

  /** Removes the record for good (the outcome was posted, or the job will never have one). */
  async finish(jobId: string): Promise<void> {
    try {
      // A purge leaves no delete marker behind, so listings stay as short as the pending work.
      await this.jsm.streams.purge(STREAM, { filter: SUBJECT_PREFIX + JOB_PREFIX + jobId });
    } catch (cause) {
      throw natsFailure(cause, `removing the delivery of job ${jobId}`);
    }
  }

  async heartbeat(record: InstanceRecord): Promise<void> {
    try {
      await this.kv.put(INSTANCE_PREFIX + record.id, encode(instanceRecordSchema.parse(record)));
    } catch (cause) {
      throw natsFailure(cause, `recording bot instance ${record.id}`);
    }
  }

  async removeInstance(instanceId: string): Promise<void> {
    try {
      await this.jsm.streams.purge(STREAM, { filter: SUBJECT_PREFIX + INSTANCE_PREFIX + instanceId });
    } catch (cause) {
      throw natsFailure(cause, `removing bot instance ${instanceId}`);
    }
  }

  private async keys(prefix: string): Promise<string[]> {
    try {
      const info = await this.jsm.streams.info(STREAM, {
        subjects_filter: kvSubject(KV_BUCKETS.deliveries, `${prefix}>`),
      });
      return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(SUBJECT_PREFIX.length));
    } catch (cause) {
      throw natsFailure(cause, 'listing pending deliveries');
    }
  }

  async instances(): Promise<InstanceRecord[]> {
    const records = await Promise.all(
      (await this.keys(INSTANCE_PREFIX)).map(async (key) =>
        decode(instanceRecordSchema, await this.entry(key)),
      ),
    );
    return records.filter((record) => record !== null);
  }

  async pending(): Promise<DeliveryRecord[]> {
    const records = await Promise.all(
      (await this.keys(JOB_PREFIX)).map(async (key) => decode(deliveryRecordSchema, await this.entry(key))),
    );
    return records.filter((record) => record !== null);
  }
}
