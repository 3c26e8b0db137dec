/**
 * Clients wait out a restarting nats-server instead of failing: submit, state reads, outcome
 * look-ups and image reads retry transient failures with backoff within their deadline, and
 * `imagine` started while the server is down finishes once it is back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { SdbotError, isTransientNatsError, withNatsRetry } from '@sdbot/shared';
import { beforeAll, expect, it } from 'vitest';
import { runSdbot } from '../../helpers/cli.js';
import { describeDistributed, submitAndWait } from '../../helpers/distributed-world.js';
import { useTemporaryDirectory } from '../../helpers/temporary-directory.js';
import { cliRequester, type TestClient } from '../../helpers/workers.js';
import { testJob } from '../../helpers/jobs.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeDistributed(
  'NATS calls survive a server restart',
  (world) => {
    const directory = useTemporaryDirectory('sdbot-retry-');
    let requester: TestClient;

    beforeAll(async () => {
      await world.startWorker({ workerId: 'retry-worker', msPerStep: 5 });
      requester = await world.openClient();
    });

    it('reads a finished result, the job state and the image while the server restarts', async () => {
      const { client } = requester;
      const job = testJob(client, { prompt: 'before', model: 'sim', requester: cliRequester, steps: 2 });
      const result = await submitAndWait(client, job, 30_000);
      if (result.type !== 'result') throw new Error(`job failed: ${result.message}`);
      const image = result.images[0]?.image;
      if (image === undefined) throw new Error('no image');

      await world.server.kill();
      const reads = Promise.all([client.readImage(image), client.state(job.id), client.findOutcome(job.id)]);
      await sleep(1500);
      await world.server.start();
      const [bytes, state, stored] = await reads;
      expect(bytes.length).toBeGreaterThan(0);
      expect(state?.status.state).toBe('completed');
      expect(stored?.jobId).toBe(job.id);
    });

    it('submits during a restart and the job runs exactly once', async () => {
      const { client } = requester;
      const job = testJob(client, { prompt: 'during', model: 'sim', requester: cliRequester, steps: 2 });
      const outcome = client.awaitOutcome(job.id, { timeoutMs: 60_000 });
      await world.server.stop();
      const submitted = client.submit(job);
      await sleep(1500);
      await world.server.start();
      await submitted;
      const result = await outcome;
      expect(result.type).toBe('result');
      expect((await client.state(job.id))?.status.state).toBe('completed');
    });

    it('imagine started while the server is down finishes once it is back', async () => {
      await world.server.stop();
      const out = join(directory.path, 'late.png');
      const run = runSdbot(
        ['imagine', '--nats', world.url, '--prompt', 'late', '--out', out, '--steps', '2'].concat([
          '--width',
          '64',
          '--height',
          '64',
        ]),
        { LOG_LEVEL: 'silent' },
      );
      await sleep(2000);
      await world.server.start();
      const finished = await run;
      expect(finished.stderr).not.toContain('NATS_UNAVAILABLE');
      expect(finished.code).toBe(0);
      expect(readFileSync(out).subarray(1, 4).toString()).toBe('PNG');
    });

    it('gives up after its window with NATS_UNAVAILABLE and never retries other failures', async () => {
      let attempts = 0;
      const refused = withNatsRetry(
        'reading nothing',
        () => {
          attempts += 1;
          return Promise.reject(new SdbotError('NOT_FOUND', 'gone'));
        },
        { withinMs: 5000 },
      );
      await expect(refused).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(attempts).toBe(1);
      // The connection may still be reconnecting after the previous restart.
      const jsm = await withNatsRetry('opening JetStream', () => jetstreamManager(requester.connection));
      await world.server.stop();
      try {
        const started = Date.now();
        const slow = withNatsRetry('reading stream SDBOT_JOBS', () => jsm.streams.info('SDBOT_JOBS'), {
          withinMs: 3000,
        });
        await expect(slow).rejects.toMatchObject({ code: 'NATS_UNAVAILABLE' });
        expect(Date.now() - started).toBeLessThan(20_000);
      } finally {
        await world.server.start();
      }
      expect(isTransientNatsError(new Error('plain'))).toBe(false);
    });
  },
  { scope: 'file' },
);
