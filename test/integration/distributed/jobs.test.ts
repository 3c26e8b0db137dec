import { expect, it } from 'vitest';
import { type Progress } from '@sdbot/shared';
import sharp from 'sharp';
import {
  describeDistributed,
  recordOutcomes,
  simulatedJob,
  submitAndWait,
} from '../../helpers/distributed-world.js';
import { testJob } from '../../helpers/jobs.js';
import { watchRequests } from '../../helpers/request-watch.js';
import { cliRequester, counterValue } from '../../helpers/workers.js';

describeDistributed('distributed generation with simulated workers', (world) => {
  it('two workers complete ten jobs, each exactly once', async () => {
    const workers = await Promise.all([world.startWorker(), world.startWorker()]);
    const { client, connection } = await world.openClient();
    const published = recordOutcomes(connection);
    const jobs = Array.from({ length: 10 }, (_, index) =>
      simulatedJob(client, { prompt: `job ${index}`, steps: 5, seed: index }),
    );
    const outcomes = await Promise.all(jobs.map((job) => submitAndWait(client, job)));
    await connection.flush();
    published.stop();

    expect(outcomes.map((outcome) => outcome.type)).toEqual(Array(10).fill('result'));
    expect(published.outcomes.map((outcome) => outcome.jobId).sort()).toEqual(
      jobs.map((job) => job.id).sort(),
    );
    const byWorker = new Set(outcomes.map((outcome) => (outcome.type === 'result' ? outcome.workerId : '')));
    expect(byWorker).toEqual(new Set(workers.map((worker) => worker.service.workerId)));
    // Stopping waits for the workers' last acknowledgements, after which the counters are final.
    await Promise.all(workers.map((worker) => worker.stop()));
    const completed = await Promise.all(
      workers.map((worker) =>
        counterValue(worker.metrics, 'sdbot_worker_jobs_total', { outcome: 'completed' }),
      ),
    );
    expect(completed.reduce((a, b) => a + b)).toBe(10);

    const first = outcomes[3];
    if (first?.type !== 'result') throw new Error('expected a result');
    const png = await client.readImage(first.images[0]!.image);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([64, 64]);
    // The simulated worker paints the seed's bytes into the top-left pixel.
    expect([...data.subarray(0, 3)]).toEqual([3, 0, 0]);
    expect((await client.state(first.jobId))?.status.state).toBe('completed');
  });

  it('a burst of submissions shares its listings of the worker registry', async () => {
    await world.startWorker({ msPerStep: 1, env: { SDBOT_WORKER_SLOTS: '4' } });
    const { client, connection } = await world.openClient();
    // The requests themselves, seen on their subject (a connection receives what it publishes).
    const listings = await watchRequests(connection, '$JS.API.STREAM.INFO.KV_sdbot-workers');
    const jobs = Array.from({ length: 40 }, (_, index) =>
      simulatedJob(client, { prompt: `burst ${index}`, steps: 1 }),
    );
    const outcomes = await Promise.all(jobs.map((job) => submitAndWait(client, job)));
    listings.stop();
    expect(outcomes.map((outcome) => outcome.type)).toEqual(Array(40).fill('result'));
    expect(listings.subjects.length).toBeGreaterThan(0);
    expect(listings.subjects.length).toBeLessThan(10);
  });

  it('does not look up a stored outcome for a job submitted after the wait starts', async () => {
    await world.startWorker({ msPerStep: 1 });
    const { client, connection } = await world.openClient();
    const lookups = await watchRequests(connection, '$JS.API.STREAM.MSG.GET.SDBOT_RESULTS');
    const fresh = simulatedJob(client, { prompt: 'fresh', steps: 1 });
    const waiting = client.awaitOutcome(fresh.id, { timeoutMs: 20_000, submitting: true });
    await client.submit(fresh);
    expect((await waiting).type).toBe('result');
    await connection.flush();
    expect(lookups.subjects).toHaveLength(0);
    // Waiting for a job submitted earlier finds its stored outcome.
    expect((await client.awaitOutcome(fresh.id, { timeoutMs: 20_000 })).type).toBe('result');
    await connection.flush();
    lookups.stop();
    expect(lookups.subjects).toHaveLength(1);
  });

  it('streams progress with previews, and the state follows the job', async () => {
    await world.startWorker({ msPerStep: 20, env: { SDBOT_PREVIEW_EVERY: '3' } });
    const { client } = await world.openClient();
    const job = simulatedJob(client, { prompt: 'progress', steps: 10, width: 128 });
    const steps: Progress[] = [];
    const watch = client.watchProgress(job.id, (progress) => {
      steps.push(progress);
    });
    const outcome = await submitAndWait(client, job);
    watch.stop();
    expect(outcome.type).toBe('result');
    // Plain steps are paced (progress-state.test.ts): the first and the last always arrive.
    const plain = steps.filter((progress) => progress.preview === undefined).map((progress) => progress.step);
    expect(plain[0]).toBe(1);
    expect(plain.at(-1)).toBe(10);
    const withPreview = steps.filter((progress) => progress.preview !== undefined);
    expect(withPreview.length).toBeGreaterThan(0);
    const preview = await client.readImage(withPreview[0]!.preview!);
    const meta = await sharp(preview).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 32, 16]);
  });

  it('refuses a model no worker serves instead of queuing it forever', async () => {
    await world.startWorker();
    const { client } = await world.openClient();
    const job = testJob(client, { prompt: 'x', model: 'nobody', requester: cliRequester });
    await expect(client.submit(job)).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL',
      message: 'no worker serves model "nobody" (online: sim)',
    });
  });
});
