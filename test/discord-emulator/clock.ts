/**
 * The emulator's notion of "now". Discord's time rules (3 s to acknowledge an interaction, 15 min
 * token lifetime) are checked against it, so a test can jump past them without waiting.
 */
export interface EmulatorClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: EmulatorClock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements EmulatorClock {
  #now: number;

  constructor(startMs: number = Date.now()) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms): ms must be >= 0, got ${ms}`);
    this.#now += ms;
  }

  set(epochMs: number): void {
    this.#now = epochMs;
  }
}
