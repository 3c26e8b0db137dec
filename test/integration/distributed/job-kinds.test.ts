/**
 * Job kinds end to end: a re-roll derived from a finished job runs like its parent, and a worker
 * that cannot run a kind (upscale, until an upscaler serves it) fails it at once with INVALID_INPUT
 * instead of retrying it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeJob, deriveJob, newJobId, type GenerationJob } from '@sdbot/shared';
import { testJob } from '../../helpers/jobs.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import {
  cliRequester,
  openTestClient,
  startTestWorker,
  type TestClient,
  type TestWorker,
} from '../../helpers/workers.js';

const available = natsServerAvailable();

describe.skipIf(!available)('job kinds through NATS', () => {
  let server: NatsTestServer;
  let worker: TestWorker;
  let requester: TestClient;
  let parent: GenerationJob;

  beforeAll(async () => {
    server = await startNatsServer();
    worker = await startTestWorker(server.url);
    requester = await openTestClient(server.url);
    parent = testJob(requester.client, {
      prompt: 'parent',
      model: 'sim',
      requester: cliRequester,
      steps: 2,
      width: 64,
      height: 64,
      count: 2,
    });
    const outcome = requester.client.awaitOutcome(parent.id, { timeoutMs: 20_000 });
    await requester.client.submit(parent);
    expect((await outcome).type).toBe('result');
  });

  afterAll(async () => {
    await worker.stop();
    await requester.close();
    await server.cleanup();
  });

  const identity = () => ({ id: newJobId('cli'), requester: cliRequester, createdAt: Date.now() });

  it('runs a re-roll with the parent parameters and its new seed', async () => {
    const { client } = requester;
    const job = client.checkJob(completeJob(deriveJob(parent, { type: 'reroll', seed: 77 }), identity()));
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
    await client.submit(job);
    const result = await outcome;
    if (result.type !== 'result') throw new Error(`re-roll failed: ${result.message}`);
    expect(result.images.map((image) => [image.seed, image.width, image.height])).toEqual([
      [77, 64, 64],
      [78, 64, 64],
    ]);
  });

  it('refuses an upscale for a model no upscaler serves, and a worker that cannot run one fails it at once', async () => {
    const { client } = requester;
    const stored = await client.findOutcome(parent.id);
    if (stored?.type !== 'result') throw new Error('the parent has no result');
    const source = { image: stored.images[0]!.image, index: 0, jobId: parent.id };
    const job = client.checkJob(completeJob(deriveJob(parent, { type: 'upscale', source }), identity()));
    // The requester already refuses: no live worker serves the model as an upscaler.
    await expect(client.submit(job)).rejects.toMatchObject({ code: 'UNKNOWN_MODEL' });
    // A job that gets there anyway (an older requester) is failed at once by the worker.
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
    await client.submit(job, { requireServedModel: false });
    expect(await outcome).toMatchObject({
      type: 'failure',
      code: 'UNSUPPORTED_CAPABILITY',
      message: 'this worker cannot run the job: it lacks upscale',
    });
  });
});
