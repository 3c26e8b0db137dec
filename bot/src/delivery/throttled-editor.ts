/**
 * Progress edits of one message: at most one every `intervalMs`, never queued. While an edit is in
 * flight or the interval has not passed, a newer view replaces the waiting one, so a slow or
 * rate-limited Discord sees the latest state instead of a backlog (discord.js retries 429s without
 * counting them, and a queue of edits could outlive the interaction token).
 */

export interface ThrottledEditorOptions<V> {
  intervalMs: number;
  send(view: V): Promise<void>;
  /** Identity of a view: a view equal to the last one sent is not sent again. */
  key(view: V): string;
  onError(error: unknown): void;
  now?: () => number;
}

export class ThrottledEditor<V> {
  private pending: V | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private lastKey: string | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: ThrottledEditorOptions<V>) {
    this.now = options.now ?? Date.now;
  }

  update(view: V): void {
    if (this.closed) return;
    this.pending = view;
    this.pump();
  }

  private pump(): void {
    if (this.closed || this.inFlight !== undefined || this.timer !== undefined) return;
    const view = this.pending;
    if (view === undefined) return;
    const wait = this.lastSentAt + this.options.intervalMs - this.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.pending = undefined;
    const key = this.options.key(view);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.lastSentAt = this.now();
    this.inFlight = this.options
      .send(view)
      .catch((error: unknown) => {
        this.options.onError(error);
      })
      .finally(() => {
        this.inFlight = undefined;
        this.pump();
      });
  }

  /** Drops the waiting view and resolves once the edit in flight, if any, is done. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
