/**
 * The queue position of a waiting job costs a few reads however long its lane is (the bot refreshes
 * it every few seconds for every waiting job), and stays right for a lane of one requester.
 */
import { expect, it } from 'vitest';
import { describeDistributed } from '../../helpers/distributed-world.js';
import { cliRequester } from '../../helpers/workers.js';
import { testJob } from '../../helpers/jobs.js';

describeDistributed('queue positions', (world) => {
  it('reads the same few entries for the 5th and the 60th job of a lane', async () => {
    const { client, connection } = await world.openClient();
    client.dispatcher.stop();
    const ids: string[] = [];
    for (let index = 0; index < 60; index += 1) {
      const job = testJob(client, {
        prompt: `job ${String(index)}`,
        model: 'nobody',
        requester: cliRequester,
      });
      await client.submit(job, { requireServedModel: false });
      ids.push(job.id);
    }
    // Count the requests (JetStream API calls and direct gets) one position costs.
    const request = connection.request.bind(connection);
    let requests = 0;
    connection.request = (...args: Parameters<typeof request>) => {
      requests += 1;
      return request(...args);
    };
    const costOf = async (id: string) => {
      requests = 0;
      const position = await client.queuePosition(id, { limit: 1000 });
      return { position, requests };
    };
    const early = await costOf(ids[4] ?? '');
    const late = await costOf(ids[59] ?? '');
    const middle = await costOf(ids[30] ?? '');
    connection.request = request;
    // Submitting moved the first job into the work queue (one job waits there without workers).
    expect(late.position?.ahead).toBe(59);
    expect(early.position?.ahead).toBe(4);
    expect(middle.position?.ahead).toBe(30);
    expect(late.requests).toBeLessThanOrEqual(early.requests);
    expect(late.requests).toBeLessThanOrEqual(10);
  });
});
