/**
 * A delivery of a job that another delivery already finished (a redelivery while the first still
 * ran, after an outage): the outcome stands, and a state left short of it is moved to it, so the
 * job does not stay "started" or "queued" for /queue and the bot.
 */
import { expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { JobStateStore, SUBJECTS, encodeMessage, jobOutcomeSchema, jobSchema } from '@sdbot/shared';
import { failureOutcome } from '@sdbot/worker';
import { describeDistributed, recordOutcomes, simulatedJob } from '../../helpers/distributed-world.js';

describeDistributed('a job finished by another delivery', (world) => {
  it('sets the state it left behind to the outcome and runs nothing', async () => {
    const { client, connection } = await world.openClient();
    const js = jetstream(connection);
    const states = await JobStateStore.open(js);
    const job = simulatedJob(client, { prompt: 'finished elsewhere', model: 'sim3' });
    // The first delivery started, and another one published the outcome; the state says started.
    await states.transition(job, { state: 'started', workerId: 'elsewhere', startedAt: Date.now() });
    const outcome = failureOutcome(
      job.id,
      'INFERENCE_FAILED',
      'the model ran out of memory',
      false,
      'elsewhere',
    );
    await js.publish(SUBJECTS.result(job.id), encodeMessage(jobOutcomeSchema, outcome), { msgID: job.id });
    const published = recordOutcomes(connection);
    await js.publish(SUBJECTS.job('sim3'), encodeMessage(jobSchema, job), { msgID: job.id });

    await world.startWorker({ models: ['sim3'], msPerStep: 1 });
    await expect
      .poll(async () => (await client.state(job.id))?.status, { timeout: 10_000 })
      .toMatchObject({ state: 'failed', code: 'INFERENCE_FAILED', message: 'the model ran out of memory' });
    await connection.flush();
    published.stop();
    // Nothing ran: no second outcome, no result.
    expect(published.outcomes).toEqual([]);
  });
});
