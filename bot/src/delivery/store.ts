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
import { KV_BUCKETS, SdbotError, type NatsConnection } from '@sdbot/shared';
import { z } from 'zod';
import { isRevisionConflict, openBucket } from '../kv.js';

const JOB_PREFIX = 'job.';
const INSTANCE_PREFIX = 'instance.';
const STREAM = `KV_${KV_BUCKETS.deliveries}`;
const SUBJECT_PREFIX = `$KV.${KV_BUCKETS.deliveries}.`;

export const deliveryRecordSchema = z.object({
  v: z.literal(1),
  jobId: z.string().min(1),
  /** Null in direct messages. */
  guildId: z.string().nullable(),
  channelId: z.string().min(1),
  userId: z.string().min(1),
  /** The channel is age-restricted (the guild's NSFW policy may allow spoilered results there). */
  channelNsfw: z.boolean(),
  /** Largest attachment the interaction allows (attachment_size_limit). */
  attachmentLimit: z.number().int().positive(),
  /** When the interaction token stops working; later results go to the channel. */
  tokenExpiresAt: z.number().int(),
  /** Bot instance following the job. */
  owner: z.string().min(1),
  /** An instance posting the outcome right now; others leave it alone until the claim is stale. */
  claim: z.object({ by: z.string().min(1), at: z.number().int() }).optional(),
  createdAt: z.number().int(),
});
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;

export const instanceRecordSchema = z.object({
  v: z.literal(1),
  id: z.string().min(1),
  startedAt: z.number().int(),
  heartbeatAt: z.number().int(),
  /** Set by a clean shutdown: its jobs can be adopted at once. */
  stoppedAt: z.number().int().optional(),
});
export type InstanceRecord = z.infer<typeof instanceRecordSchema>;

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
  if (entry?.operation !== 'PUT') return null;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(entry.value));
  } catch {
    return null;
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

function unavailable(what: string, cause: unknown): SdbotError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SdbotError('NATS_UNAVAILABLE', `cannot ${what}: ${reason}`, { cause });
}

export interface DeliveryStoreOptions {
  replicas?: number;
  /** Records untouched for this long are dropped (the job state's lifetime). */
  ttlMs?: number;
}

/** Compare-and-set attempts on one record before giving up. */
const MAX_ATTEMPTS = 20;

export class DeliveryStore {
  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
  ) {}

  static async open(connection: NatsConnection, options: DeliveryStoreOptions = {}): Promise<DeliveryStore> {
    const kv = await openBucket(connection, KV_BUCKETS.deliveries, {
      ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
      ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    });
    const jsm = await jetstreamManager(connection).catch((cause: unknown) => {
      throw unavailable('open JetStream', cause);
    });
    return new DeliveryStore(kv, jsm);
  }

  private async entry(key: string): Promise<KvEntry | null> {
    try {
      return await this.kv.get(key);
    } catch (cause) {
      throw unavailable(`read ${key}`, cause);
    }
  }

  async create(record: DeliveryRecord): Promise<void> {
    try {
      await this.kv.create(JOB_PREFIX + record.jobId, encode(deliveryRecordSchema.parse(record)));
    } catch (cause) {
      throw unavailable(`record the delivery of job ${record.jobId}`, cause);
    }
  }

  async get(jobId: string): Promise<DeliveryRecord | null> {
    return decode(deliveryRecordSchema, await this.entry(JOB_PREFIX + jobId));
  }

  /** Applies `change` with compare-and-set; undefined from `change` leaves the record as it is. */
  private async change(
    jobId: string,
    change: (current: DeliveryRecord) => DeliveryRecord | undefined,
  ): Promise<{ record: DeliveryRecord | null; written: boolean }> {
    const key = JOB_PREFIX + jobId;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const entry = await this.entry(key);
      const current = decode(deliveryRecordSchema, entry);
      if (entry === null || current === null) return { record: null, written: false };
      const next = change(current);
      if (next === undefined) return { record: current, written: false };
      try {
        await this.kv.update(key, encode(next), entry.revision);
        return { record: next, written: true };
      } catch (cause) {
        if (!isRevisionConflict(cause)) throw unavailable(`update ${key}`, cause);
      }
    }
    throw new SdbotError('NATS_UNAVAILABLE', `${key} kept changing under us; try again in a moment`);
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
      throw unavailable(`remove the delivery of job ${jobId}`, cause);
    }
  }

  async heartbeat(record: InstanceRecord): Promise<void> {
    try {
      await this.kv.put(INSTANCE_PREFIX + record.id, encode(instanceRecordSchema.parse(record)));
    } catch (cause) {
      throw unavailable(`record bot instance ${record.id}`, cause);
    }
  }

  async removeInstance(instanceId: string): Promise<void> {
    try {
      await this.jsm.streams.purge(STREAM, { filter: SUBJECT_PREFIX + INSTANCE_PREFIX + instanceId });
    } catch (cause) {
      throw unavailable(`remove bot instance ${instanceId}`, cause);
    }
  }

  private async keys(prefix: string): Promise<string[]> {
    try {
      const info = await this.jsm.streams.info(STREAM, { subjects_filter: `${SUBJECT_PREFIX}${prefix}>` });
      return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(SUBJECT_PREFIX.length));
    } catch (cause) {
      throw unavailable('list pending deliveries', cause);
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
