/**
 * A job sent straight to the work queue carries the revision of the queued state written for it,
 * and a job moved from the backlog the revision the dispatcher read as it moved it: its worker
 * writes `started` against that revision instead of reading the state first. A state that changed
 * since (a cancellation) is read again and stands; a header that is not a revision is ignored.
 */
import { expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import {
  JobStateStore,
  STATE_REVISION_HEADER,
  SUBJECTS,
  encodeMessage,
  jobSchema,
  type Job,
  type NatsConnection,
} from '@sdbot/shared';
import { describeDistributed, simulatedJob } from '../../helpers/distributed-world.js';
import { watchRequests } from '../../helpers/request-watch.js';

/** Reads of job states (direct gets of the jobs bucket) sent on the server, by subject. */
async function watchStateReads(connection: NatsConnection): Promise<string[]> {
  return (await watchRequests(connection, '$JS.API.DIRECT.GET.KV_sdbot-jobs.>')).subjects;
}

/** Puts a job in the work queue as a dispatcher would, with `revision` as its header. */
async function queueWithHeader(connection: NatsConnection, job: Job, revision: string): Promise<void> {
  const header = headers();
  header.set(STATE_REVISION_HEADER, revision);
  await jetstream(connection).publish(SUBJECTS.job(job.model), encodeMessage(jobSchema, job), {
    msgID: job.id,
    headers: header,
  });
}

describeDistributed('the queued state revision a job carries', (world) => {
  it('lets the worker start a job sent straight to it without reading its state', async () => {
    await world.startWorker({ msPerStep: 1 });
    const { client, connection } = await world.openClient();
    const reads = await watchStateReads(connection);
    const job = simulatedJob(client, { prompt: 'straight through', steps: 1 });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 20_000, submitting: true });
    expect((await client.submit(job)).queue).toBe('work');
    expect((await outcome).type).toBe('result');
    await connection.flush();
    expect(reads.filter((subject) => subject.endsWith(job.id))).toEqual([]);
    expect((await client.state(job.id))?.status.state).toBe('completed');
  });

  it('reads the state again when it changed since, so a cancellation stands', async () => {
    const { client, connection } = await world.openClient();
    const states = await JobStateStore.open(jetstream(connection));
    const cancelled = simulatedJob(client, { prompt: 'cancelled before it ran', model: 'sim2' });
    const revision = await states.createQueued(cancelled, {});
    await queueWithHeader(connection, cancelled, String(revision));
    await client.cancel(cancelled.id, 'tester');
    const garbled = simulatedJob(client, { prompt: 'a header that is no revision', model: 'sim2' });
    await states.createQueued(garbled, {});
    await queueWithHeader(connection, garbled, 'not-a-number');
    const cancelledOutcome = client.awaitOutcome(cancelled.id, { timeoutMs: 20_000 });
    const garbledOutcome = client.awaitOutcome(garbled.id, { timeoutMs: 20_000 });

    await world.startWorker({ models: ['sim2'], msPerStep: 1 });
    expect(await cancelledOutcome).toMatchObject({ type: 'failure', code: 'CANCELLED' });
    expect((await client.state(cancelled.id))?.status.state).toBe('cancelled');
    expect((await garbledOutcome).type).toBe('result');
    expect((await client.state(garbled.id))?.status.state).toBe('completed');
  });

  it('gives a job moved from the backlog the revision of its queued state', async () => {
    const { client, connection } = await world.openClient();
    const states = await JobStateStore.open(jetstream(connection));
    // No worker serves the model yet: one job fills its work queue, the next waits in the backlog.
    const first = simulatedJob(client, { prompt: 'ahead of it', model: 'sim3' });
    expect((await client.submit(first, { requireServedModel: false })).queue).toBe('work');
    const job = simulatedJob(client, { prompt: 'waited in the backlog', model: 'sim3' });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 20_000, submitting: true });
    expect((await client.submit(job, { requireServedModel: false })).queue).toBe('backlog');
    const queued = await states.get(job.id);
    expect(queued?.record.status.state).toBe('queued');
    const headers: string[] = [];
    connection.subscribe(SUBJECTS.job('sim3'), {
      callback: (_error, message) => {
        // Absent: the empty string.
        headers.push(message.headers?.get(STATE_REVISION_HEADER) ?? '');
      },
    });
    const reads = await watchStateReads(connection);

    await world.startWorker({ models: ['sim3'], msPerStep: 1 });
    expect((await outcome).type).toBe('result');
    await connection.flush();
    expect(headers).toEqual([String(queued?.revision)]);
    // The dispatcher's read as it moved the job; none by the worker.
    expect(reads.filter((subject) => subject.endsWith(job.id))).toHaveLength(1);
    expect((await client.state(job.id))?.status.state).toBe('completed');
  });

  it('moves a job cancelled in the backlog without a revision, and the cancellation stands', async () => {
    const { client, connection } = await world.openClient();
    // No worker serves the model yet: one job fills its work queue, the next waits in the backlog.
    const first = simulatedJob(client, { prompt: 'ahead of it', model: 'sim4' });
    expect((await client.submit(first, { requireServedModel: false })).queue).toBe('work');
    const job = simulatedJob(client, { prompt: 'cancelled in the backlog', model: 'sim4' });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 20_000, submitting: true });
    expect((await client.submit(job, { requireServedModel: false })).queue).toBe('backlog');
    const headers: string[] = [];
    connection.subscribe(SUBJECTS.job('sim4'), {
      callback: (_error, message) => {
        // Absent: the empty string.
        headers.push(message.headers?.get(STATE_REVISION_HEADER) ?? '');
      },
    });
    await connection.flush();
    await client.cancel(job.id, 'tester');

    await world.startWorker({ models: ['sim4'], msPerStep: 1 });
    expect(await outcome).toMatchObject({ type: 'failure', code: 'CANCELLED' });
    expect(headers).toEqual(['']);
    expect((await client.state(job.id))?.status.state).toBe('cancelled');
  });
});
