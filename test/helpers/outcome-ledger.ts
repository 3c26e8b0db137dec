/**
 * What a fault run checks: every submitted job gets exactly one outcome. The ledger listens to
 * every outcome published (raw, before any de-duplication), so a job whose workers produced two
 * different outcomes shows up as duplicated, and one with none by the end as lost.
 */
import { createHash } from 'node:crypto';
import {
  SUBJECTS,
  decodeMessage,
  jobOutcomeSchema,
  type JobOutcome,
  type NatsConnection,
} from '@sdbot/shared';

export interface LedgerFigures {
  submitted: number;
  delivered: number;
  failed: number;
  lost: number;
  duplicated: number;
  deadLettered: number;
  /** Outcome messages published again for a job with the same content (harmless, de-duplicated). */
  resent: number;
  /** Longest time from submit to the first outcome, in ms. */
  worstDelayMs: number;
  failureCodes: Record<string, number>;
}

/** What distinguishes one outcome from another for a user (not when or where it was made). */
function fingerprint(outcome: JobOutcome): string {
  const essence =
    outcome.type === 'result'
      ? { type: outcome.type, images: outcome.images.map((image) => [image.seed, image.image.name]) }
      : { type: outcome.type, code: outcome.code };
  return createHash('sha256').update(JSON.stringify(essence)).digest('hex');
}

export class OutcomeLedger {
  private readonly submittedAt = new Map<string, number>();
  private readonly outcomes = new Map<
    string,
    { first: JobOutcome; at: number; kinds: Set<string>; count: number }
  >();
  private readonly stop: () => void;

  constructor(connection: NatsConnection) {
    const subscription = connection.subscribe(SUBJECTS.resultsAll, {
      callback: (error, message) => {
        if (error !== null) return;
        let outcome: JobOutcome;
        try {
          outcome = decodeMessage(jobOutcomeSchema, message.data);
        } catch {
          return;
        }
        this.record(outcome);
      },
    });
    this.stop = () => {
      subscription.unsubscribe();
    };
  }

  submitted(jobId: string, at = Date.now()): void {
    this.submittedAt.set(jobId, at);
  }

  /** Records an outcome message as published. */
  record(outcome: JobOutcome, at = Date.now()): void {
    const seen = this.outcomes.get(outcome.jobId);
    if (seen === undefined) {
      this.outcomes.set(outcome.jobId, {
        first: outcome,
        at,
        kinds: new Set([fingerprint(outcome)]),
        count: 1,
      });
      return;
    }
    seen.kinds.add(fingerprint(outcome));
    seen.count += 1;
  }

  /**
   * An outcome the requester got by its own route (awaitOutcome, which also looks in the results
   * stream after a reconnect): counts only when the live subscription missed it.
   */
  found(outcome: JobOutcome, at = Date.now()): void {
    if (!this.outcomes.has(outcome.jobId)) this.record(outcome, at);
  }

  /** Job ids submitted that have no outcome yet. */
  waiting(): string[] {
    return [...this.submittedAt.keys()].filter((id) => !this.outcomes.has(id));
  }

  figures(): LedgerFigures {
    const figures: LedgerFigures = {
      submitted: this.submittedAt.size,
      delivered: 0,
      failed: 0,
      lost: 0,
      duplicated: 0,
      deadLettered: 0,
      resent: 0,
      worstDelayMs: 0,
      failureCodes: {},
    };
    for (const [jobId, submittedAt] of this.submittedAt) {
      const seen = this.outcomes.get(jobId);
      if (seen === undefined) {
        figures.lost += 1;
        continue;
      }
      if (seen.first.type === 'result') figures.delivered += 1;
      else {
        figures.failed += 1;
        figures.failureCodes[seen.first.code] = (figures.failureCodes[seen.first.code] ?? 0) + 1;
        if (seen.first.code === 'MAX_DELIVERIES_EXCEEDED') figures.deadLettered += 1;
      }
      if (seen.kinds.size > 1) figures.duplicated += 1;
      else figures.resent += seen.count - 1;
      figures.worstDelayMs = Math.max(figures.worstDelayMs, seen.at - submittedAt);
    }
    return figures;
  }

  close(): void {
    this.stop();
  }
}
