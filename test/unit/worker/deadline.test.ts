import { SdbotError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { operationDeadlineMs, untilAborted, withDeadline } from '../../../worker/src/service/deadline.js';

const never = () => new Promise<never>(() => undefined);

describe('job deadlines', () => {
  it('an operation that never answers fails with TIMEOUT naming it', async () => {
    const failure = await withDeadline(
      'reading x',
      { signal: new AbortController().signal, operationMs: 30 },
      never,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SdbotError);
    expect(failure).toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
      message: 'reading x: no answer within 30 ms',
    });
  });

  it('the job abort ends a waiting operation at once with the abort reason', async () => {
    const job = new AbortController();
    const waiting = withDeadline('reading x', { signal: job.signal, operationMs: 60_000 }, never);
    const reason = new SdbotError('CANCELLED', 'cancelled by tester');
    job.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(withDeadline('again', { signal: job.signal, operationMs: 60_000 }, never)).rejects.toBe(
      reason,
    );
  });

  it('an answer in time passes through; a failure keeps its own error', async () => {
    const deadline = { signal: new AbortController().signal, operationMs: 1000 };
    expect(await withDeadline('x', deadline, () => Promise.resolve(7))).toBe(7);
    const own = new Error('boom');
    await expect(withDeadline('x', deadline, () => Promise.reject(own))).rejects.toBe(own);
    // Work that throws before it returns a promise fails the same way.
    await expect(
      withDeadline('x', deadline, () => {
        throw own;
      }),
    ).rejects.toBe(own);
    await expect(untilAborted(Promise.resolve('done'), new AbortController().signal)).resolves.toBe('done');
  });

  it('one operation gets half the ack wait, within 1..30 s', () => {
    expect(operationDeadlineMs(60_000)).toBe(30_000);
    expect(operationDeadlineMs(10_000)).toBe(5000);
    expect(operationDeadlineMs(1000)).toBe(1000);
    expect(operationDeadlineMs(3_600_000)).toBe(30_000);
  });
});
