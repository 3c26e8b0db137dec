import { expect, it } from 'vitest';
import { SdbotError } from '@sdbot/shared';
import { SimulatedGenerator, type GenerationHooks, type GenerationRequest } from '@sdbot/worker';
import {
  describeDistributed,
  expectNewestDeadLetter,
  simulatedJob,
  submitAndWait,
} from '../../helpers/distributed-world.js';

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

describeDistributed('distributed generation: shape errors', (world) => {
  it('an onnxruntime shape error is not retried: the job fails on its first delivery', async () => {
    const env = { SDBOT_RETRY_DELAY: '50ms', SDBOT_MAX_DELIVER: '3' };
    const generator = new ShapeFailingGenerator();
    await world.startWorker({ generator, env });
    const requester = await world.openClient(env);
    const { client } = requester;
    const job = simulatedJob(client, { prompt: 'x', steps: 2 });
    const outcome = await submitAndWait(client, job);
    expect(outcome).toMatchObject({ type: 'failure', code: 'INFERENCE_FAILED', retryable: false });
    expect(outcome.type === 'failure' && outcome.message).toContain('Non concat axis dimensions must match');
    expect(generator.calls).toBe(1);
    await expectNewestDeadLetter(requester, { jobId: job.id, code: 'INFERENCE_FAILED', deliveries: 1 });
  });
});
