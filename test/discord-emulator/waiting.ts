/**
 * Waiting for the emulator's state: every change (a call recorded, a frame sent, a message edited)
 * re-checks the pending waits, so a test resolves the moment what it waits for happens.
 */
export class ChangeNotifier {
  readonly #waits = new Set<{ check: () => void; fail: (error: Error) => void }>();

  notify(): void {
    for (const wait of [...this.#waits]) wait.check();
  }

  /** Resolves with the probe's first defined value; rejects naming what was awaited on timeout. */
  waitUntil<T>(
    probe: () => T | undefined,
    timeoutMs: number,
    description: string | (() => string),
  ): Promise<T> {
    const first = probe();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const wait = {
        check: () => {
          const value = probe();
          if (value === undefined) return;
          this.#waits.delete(wait);
          clearTimeout(timer);
          resolve(value);
        },
        fail: (error: Error) => {
          this.#waits.delete(wait);
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const what = typeof description === 'string' ? description : description();
        wait.fail(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waits.add(wait);
    });
  }

  /** Rejects every pending wait (the emulator is closing). */
  cancelAll(reason: string): void {
    for (const wait of [...this.#waits]) wait.fail(new Error(reason));
  }
}
