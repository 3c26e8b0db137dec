/**
 * A running job's state writes against a real nats-server: they go one at a time, each from the
 * revision the one before it left, so a write started before the previous one landed (a step's
 * while `started` is still being written) neither conflicts nor reads the state again.
 */
import { jetstream } from '@nats-io/jetstream';
import { JOB_FLOW_RESOURCES, JobStateStore, jobSchema } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { JobStateTracker } from '../../worker/src/service/job-state-tracker.js';
import { exampleJob } from '../helpers/messages.js';
import { watchRequests } from '../helpers/request-watch.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { useProvisionedServer } from '../helpers/provisioned-server.js';

describe.skipIf(!natsServerAvailable())('a job state tracker (real nats-server)', () => {
  const nats = useProvisionedServer({ resources: JOB_FLOW_RESOURCES, models: ['sim'] });

  it('writes in the order asked, each from the last revision, without reading', async () => {
    const { connection } = nats;
    const store = await JobStateStore.open(jetstream(connection));
    const job = jobSchema.parse(exampleJob({ id: 'job-tracker-order' }));
    const revision = await store.createQueued(job, {});
    expect(revision).not.toBeNull();
    const reads = await watchRequests(connection, '$JS.API.DIRECT.GET.KV_sdbot-jobs.>');
    const signal = new AbortController().signal;
    const tracker = new JobStateTracker(
      store,
      job,
      {
        record: { v: 1, job, status: { state: 'queued' }, updatedAt: job.createdAt },
        revision: revision ?? 0,
      },
      { signal, operationMs: 5000 },
    );

    // Asked together, as a step's write may be while `started` is still on its way.
    const [started, progress] = await Promise.all([
      tracker.transition({ state: 'started', workerId: 'w-1', startedAt: Date.now() }),
      tracker.transition({ state: 'progress', workerId: 'w-1', step: 1, total: 3 }),
    ]);
    await connection.flush();
    reads.stop();
    expect([started.changed, progress.changed]).toEqual([true, true]);
    expect(progress.entry?.revision).toBeGreaterThan(started.entry?.revision ?? Infinity);
    expect(reads.subjects).toEqual([]);
    expect((await store.get(job.id))?.record.status).toMatchObject({ state: 'progress', step: 1 });
  });
});
