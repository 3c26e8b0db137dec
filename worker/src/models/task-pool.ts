/** Runs a download's per-file tasks a few at a time. */

/** Runs `task` over `items`, `limit` at a time; the first failure stops the others. */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const taskSignal = AbortSignal.any([signal, stop.signal]);
  let next = 0;
  const failures: unknown[] = [];
  const lane = async () => {
    for (;;) {
      const item = items[next];
      next += 1;
      if (item === undefined || taskSignal.aborted) return;
      try {
        await task(item, taskSignal);
      } catch (error) {
        failures.push(error);
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failures.length > 0) throw failures[0];
}
