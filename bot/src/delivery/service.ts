/**
 * The jobs this bot instance follows, and the jobs it takes over. Every instance writes a heartbeat
 * to the deliveries bucket; an instance that stopped (or missed heartbeats) leaves its pending jobs
 * to whichever live instance adopts them first (compare-and-set on the owner), which then posts
 * their outcomes to the channel. A restarted bot is simply a new instance adopting the old one's.
 */
import { LOG_EVENTS, type Job } from '@sdbot/shared';
import type { InteractionReply } from '../service/discord.js';
import type { DeliveryRecord, InstanceRecord } from '@sdbot/shared';
import { JobTracker, type TrackerContext } from './tracker.js';

export interface DeliveryServiceOptions {
  /** How often this instance writes its heartbeat; four missed ones make it adoptable. */
  heartbeatIntervalMs: number;
  /** How often to look for jobs of stopped or silent instances. */
  sweepIntervalMs: number;
}

/** Every this many sweeps, pending jobs are listed even when no instance looks dead. */
const FULL_SCAN_EVERY = 12;
const MISSED_HEARTBEATS = 4;

export class DeliveryService {
  private readonly trackers = new Map<string, JobTracker>();
  private readonly startedAt: number;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private sweeps = 0;
  private stopped = false;

  constructor(
    private readonly ctx: TrackerContext,
    private readonly options: DeliveryServiceOptions,
  ) {
    this.startedAt = ctx.now();
  }

  get instanceId(): string {
    return this.ctx.instanceId;
  }

  /** Registers this instance, then adopts what stopped instances left behind. */
  async start(): Promise<void> {
    // The heartbeat comes first: a job must never be recorded under an owner nobody has heard of.
    await this.heartbeat();
    await this.sweep(true);
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch((error: unknown) => {
        this.ctx.logger.warn({ err: error }, LOG_EVENTS.heartbeat.failed);
      });
    }, this.options.heartbeatIntervalMs);
    this.sweepTimer = setInterval(() => {
      this.sweeps += 1;
      void this.sweep(this.sweeps % FULL_SCAN_EVERY === 0);
    }, this.options.sweepIntervalMs);
  }

  private heartbeat(stoppedAt?: number): Promise<void> {
    const record: InstanceRecord = {
      v: 1,
      id: this.instanceId,
      startedAt: this.startedAt,
      heartbeatAt: this.ctx.now(),
      ...(stoppedAt === undefined ? {} : { stoppedAt }),
    };
    return this.ctx.deliveries.heartbeat(record);
  }

  private isGone(instance: InstanceRecord, now: number): boolean {
    const silentFor = now - instance.heartbeatAt;
    return (
      instance.stoppedAt !== undefined || silentFor > this.options.heartbeatIntervalMs * MISSED_HEARTBEATS
    );
  }

  /** Whether the instance is running (its heartbeat is recent and it has not stopped). */
  async instanceAlive(instanceId: string): Promise<boolean> {
    if (instanceId === this.instanceId) return !this.stopped;
    const instance = (await this.ctx.deliveries.instances()).find((record) => record.id === instanceId);
    return instance !== undefined && !this.isGone(instance, this.ctx.now());
  }

  private sweep(fullScan: boolean): Promise<void> {
    this.sweeping ??= this.adoptOrphans(fullScan)
      .catch((error: unknown) => {
        this.ctx.logger.warn({ err: error }, LOG_EVENTS.instance.scanFailed);
      })
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  private async adoptOrphans(fullScan: boolean): Promise<void> {
    if (this.stopped) return;
    const { deliveries, logger, now } = this.ctx;
    const instances = await deliveries.instances();
    const gone = instances.filter(
      (instance) => instance.id !== this.instanceId && this.isGone(instance, now()),
    );
    if (gone.length === 0 && !fullScan) return;
    const alive = new Set(
      instances.filter((instance) => !gone.includes(instance)).map((instance) => instance.id),
    );
    alive.add(this.instanceId);
    const pending = await deliveries.pending();
    const known = new Set(instances.map((instance) => instance.id));
    if (pending.some((record) => !known.has(record.owner))) {
      // An owner unheard of may have started after the first look; only one missing twice is gone.
      for (const instance of await deliveries.instances()) {
        if (!known.has(instance.id) && !this.isGone(instance, now())) alive.add(instance.id);
      }
    }
    const unsettled = new Set<string>();
    for (const record of pending) {
      // This instance's own jobs are followed from submission on; others' only once their owner is gone.
      if (alive.has(record.owner) || this.trackers.has(record.jobId)) continue;
      try {
        const adopted = await deliveries.adopt(record.jobId, record.owner, this.instanceId);
        if (adopted === null) continue;
        logger.info(
          { jobId: record.jobId, guildId: record.guildId, from: record.owner },
          LOG_EVENTS.job.adopted,
        );
        this.ctx.metrics.adoptions.inc();
        this.track(adopted);
      } catch (error) {
        unsettled.add(record.owner);
        logger.warn(
          { err: error, jobId: record.jobId, next: 'retry on the next scan' },
          LOG_EVENTS.job.adoptFailed,
        );
      }
    }
    // An instance is forgotten only once every job it owned has a new owner.
    for (const instance of gone) {
      if (unsettled.has(instance.id)) continue;
      await deliveries.removeInstance(instance.id).catch((error: unknown) => {
        logger.warn({ err: error, instance: instance.id }, LOG_EVENTS.instance.removeFailed);
      });
    }
  }

  /**
   * Follows a job until its outcome is posted (a job already followed keeps its tracker).
   * `submitting`: this process submits the job once this returns (see awaitOutcome).
   */
  track(
    record: DeliveryRecord,
    job?: Job,
    reply?: InteractionReply,
    { submitting = false }: { submitting?: boolean } = {},
  ): JobTracker {
    const existing = this.trackers.get(record.jobId);
    if (existing !== undefined) return existing;
    const tracker = new JobTracker(this.ctx, record, job, reply, submitting, (jobId) => {
      this.trackers.delete(jobId);
    });
    this.trackers.set(record.jobId, tracker);
    tracker.start();
    return tracker;
  }

  /** Stops following a job that never reached the queue. */
  async abandon(jobId: string): Promise<void> {
    const tracker = this.trackers.get(jobId);
    this.trackers.delete(jobId);
    await tracker?.stop();
  }

  tracker(jobId: string): JobTracker | undefined {
    return this.trackers.get(jobId);
  }

  /** Jobs this instance follows right now. */
  get tracked(): number {
    return this.trackers.size;
  }

  /**
   * A job was cancelled from a button: the instance following it says so. When that instance is
   * this one, or none is running, this one does, editing the message through `reply`.
   */
  async cancelled(jobId: string, cancelledBy: string, reply: InteractionReply): Promise<void> {
    const local = this.trackers.get(jobId);
    if (local !== undefined) {
      local.finishCancelled(cancelledBy);
      return;
    }
    const record = await this.ctx.deliveries.get(jobId);
    if (record === null) return;
    if (record.owner !== this.instanceId && (await this.instanceAlive(record.owner))) return;
    const adopted =
      record.owner === this.instanceId
        ? record
        : await this.ctx.deliveries.adopt(jobId, record.owner, this.instanceId);
    if (adopted === null) return;
    this.track(adopted, undefined, reply).finishCancelled(cancelledBy);
  }

  /** Stops following jobs (without posting) and tells other instances to adopt them now. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    await this.sweeping;
    await Promise.all([...this.trackers.values()].map((tracker) => tracker.stop()));
    await this.heartbeat(this.ctx.now()).catch((error: unknown) => {
      this.ctx.logger.warn({ err: error }, LOG_EVENTS.instance.stopFailed);
    });
  }
}
