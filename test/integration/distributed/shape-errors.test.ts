import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SdbotError, collectStatus } from '@sdbot/shared';
import { SimulatedGenerator, type GenerationHooks, type GenerationRequest } from '@sdbot/worker';
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

/** What onnxruntime answers when the UNet gets latents whose sides it cannot halve three times. */
const CONCAT_MISMATCH =
  "unet/model.onnx: Non-zero status code returned while running Concat node. Name:'/up_blocks.0/Concat' " +
  'Status Message: concat.cc:154 PrepareForCompute Non concat axis dimensions must match: Axis 3 has ' +
  'mismatched dimensions of 33 and 32';

class ShapeFailingGenerator extends SimulatedGenerator {
  calls = 0;
  constructor() {
    super(['sim'], 1);
  }
  override generate(_request: GenerationRequest, _hooks: GenerationHooks) {
    this.calls += 1;
    return Promise.reject(new SdbotError('INFERENCE_FAILED', CONCAT_MISMATCH));
  }
}

describe.skipIf(!available)('distributed generation: shape errors', () => {
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

  it('an onnxruntime shape error is not retried: the job fails on its first delivery', async () => {
    const env = { SDBOT_RETRY_DELAY: '50ms', SDBOT_MAX_DELIVER: '3' };
    const generator = new ShapeFailingGenerator();
    workers = [await startTestWorker(server.url, { generator, env })];
    requester = await openTestClient(server.url, env);
    const { client, connection } = requester;
    const job = testJob(client, {
      prompt: 'x',
      model: 'sim',
      requester: cliRequester,
      steps: 2,
      width: 64,
      height: 64,
    });
    const waiting = client.awaitOutcome(job.id, { timeoutMs: 20_000 });
    await client.submit(job);
    const outcome = await waiting;
    expect(outcome).toMatchObject({ type: 'failure', code: 'INFERENCE_FAILED', retryable: false });
    expect(outcome.type === 'failure' && outcome.message).toContain('Non concat axis dimensions must match');
    expect(generator.calls).toBe(1);
    const status = await collectStatus(await jetstreamManager(connection), client.workers);
    expect(status.deadLetters.recent[0]).toMatchObject({
      jobId: job.id,
      code: 'INFERENCE_FAILED',
      deliveries: 1,
    });
  });
});
