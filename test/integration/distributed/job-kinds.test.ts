/**
 * Job kinds end to end: a re-roll derived from a finished job runs like its parent, and a worker
 * that cannot run a kind (upscale, until an upscaler serves it) fails it at once with INVALID_INPUT
 * instead of retrying it.
 */
import { beforeAll, expect, it } from 'vitest';
import { completeJob, deriveJob, newJobId, type GenerationJob } from '@sdbot/shared';
import { describeDistributed, simulatedJob, submitAndWait } from '../../helpers/distributed-world.js';
import { cliRequester, type TestClient } from '../../helpers/workers.js';

describeDistributed(
  'job kinds through NATS',
  (world) => {
    let requester: TestClient;
    let parent: GenerationJob;

    beforeAll(async () => {
      await world.startWorker();
      requester = await world.openClient();
      parent = simulatedJob(requester.client, { prompt: 'parent', steps: 2, count: 2 });
      expect((await submitAndWait(requester.client, parent)).type).toBe('result');
    });

    const identity = () => ({ id: newJobId('cli'), requester: cliRequester, createdAt: Date.now() });

    it('runs a re-roll with the parent parameters and its new seed', async () => {
      const { client } = requester;
      const job = client.checkJob(completeJob(deriveJob(parent, { type: 'reroll', seed: 77 }), identity()));
      const result = await submitAndWait(client, job);
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
  },
  { scope: 'file' },
);
