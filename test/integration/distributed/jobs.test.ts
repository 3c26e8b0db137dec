import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUBJECTS, decodeMessage, jobOutcomeSchema, type JobOutcome, type Progress } from '@sdbot/shared';
import sharp from 'sharp';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { testJob } from '../../helpers/jobs.js';
import {
  cliRequester,
  counterValue,
  openTestClient,
  startTestWorker,
  type TestClient,
  type TestWorker,
} from '../../helpers/workers.js';

const available = natsServerAvailable();

describe.skipIf(!available)('distributed generation with simulated workers', () => {
  let server: NatsTestServer;
  let workers: TestWorker[] = [];
  let requester: TestClient;

  beforeEach(async () => {
    server = await startNatsServer();
  });

  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    workers = [];
    await requester.close();
    await server.cleanup();
  });

  it('two workers complete ten jobs, each exactly once', async () => {
    workers = await Promise.all([startTestWorker(server.url), startTestWorker(server.url)]);
    requester = await openTestClient(server.url);
    const { client, connection } = requester;
    const published: JobOutcome[] = [];
    const everyOutcome = connection.subscribe(SUBJECTS.resultsAll, {
      callback: (_error, message) => {
        published.push(decodeMessage(jobOutcomeSchema, message.data));
      },
    });
    const jobs = Array.from({ length: 10 }, (_, index) =>
      testJob(client, {
        prompt: `job ${index}`,
        model: 'sim',
        requester: cliRequester,
        steps: 5,
        width: 64,
        height: 64,
        seed: index,
      }),
    );
    const outcomes = await Promise.all(
      jobs.map(async (job) => {
        const waiting = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
        await client.submit(job);
        return waiting;
      }),
    );
    await connection.flush();
    everyOutcome.unsubscribe();

    expect(outcomes.map((outcome) => outcome.type)).toEqual(Array(10).fill('result'));
    expect(published.map((outcome) => outcome.jobId).sort()).toEqual(jobs.map((job) => job.id).sort());
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

  it('streams progress with previews, and the state follows the job', async () => {
    workers = [await startTestWorker(server.url, { msPerStep: 20, env: { SDBOT_PREVIEW_EVERY: '3' } })];
    requester = await openTestClient(server.url);
    const { client } = requester;
    const job = testJob(client, {
      prompt: 'progress',
      model: 'sim',
      requester: cliRequester,
      steps: 10,
      width: 128,
      height: 64,
    });
    const steps: Progress[] = [];
    const watch = client.watchProgress(job.id, (progress) => {
      steps.push(progress);
    });
    const waiting = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
    await client.submit(job);
    const outcome = await waiting;
    watch.stop();
    expect(outcome.type).toBe('result');
    const plain = steps.filter((progress) => progress.preview === undefined).map((progress) => progress.step);
    expect(plain).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const withPreview = steps.filter((progress) => progress.preview !== undefined);
    expect(withPreview.length).toBeGreaterThan(0);
    const preview = await client.readImage(withPreview[0]!.preview!);
    const meta = await sharp(preview).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 32, 16]);
  });

  it('refuses a model no worker serves instead of queuing it forever', async () => {
    workers = [await startTestWorker(server.url)];
    requester = await openTestClient(server.url);
    const job = testJob(requester.client, { prompt: 'x', model: 'nobody', requester: cliRequester });
    await expect(requester.client.submit(job)).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL',
      message: 'no worker serves model "nobody" (online: sim)',
    });
  });
});
