/**
 * What the job state in KV says while a job runs: the first step at once, then at most once a
 * second, and the last step only when decoding the images after it takes a while (a job that
 * ends sooner goes straight from its last recorded step to completed, one write fewer). And what
 * the progress messages say: the first and last step, and at most four a second between.
 */
import { expect, it } from 'vitest';
import {
  KV_BUCKETS,
  decodeMessage,
  jobStateKey,
  jobStateRecordSchema,
  kvSubject,
  type NatsConnection,
  type Progress,
} from '@sdbot/shared';
import {
  LAST_STEP_STATE_DELAY_MS,
  PROGRESS_INTERVAL_MS,
  SimulatedGenerator,
  type GenerationHooks,
  type GenerationOutput,
  type GenerationRequest,
} from '@sdbot/worker';
import { describeDistributed, simulatedJob, submitAndWait } from '../../helpers/distributed-world.js';

/** The simulated generator, with the time a real one spends decoding after its last step. */
class SlowDecodeGenerator extends SimulatedGenerator {
  constructor(private readonly decodeMs: number) {
    super(['sim'], 30);
  }

  override async generate(request: GenerationRequest, hooks: GenerationHooks): Promise<GenerationOutput> {
    const output = await super.generate(request, hooks);
    await new Promise((resolve) => setTimeout(resolve, this.decodeMs));
    return output;
  }
}

/** Every state written for the job, as "queued", "started", "progress 1/3", "completed". */
async function watchStates(connection: NatsConnection, jobId: string): Promise<{ states: string[] }> {
  const seen = { states: [] as string[] };
  connection.subscribe(kvSubject(KV_BUCKETS.jobs, jobStateKey(jobId)), {
    callback: (error, message) => {
      if (error !== null || message.data.length === 0) return;
      const { status } = decodeMessage(jobStateRecordSchema, message.data);
      seen.states.push(
        status.state === 'progress' ? `progress ${status.step}/${status.total}` : status.state,
      );
    },
  });
  await connection.flush();
  return seen;
}

describeDistributed('job state while a job runs', (world) => {
  it('a job that ends right after its last step skips that step in KV', async () => {
    await world.startWorker({ generator: new SlowDecodeGenerator(0) });
    const { client, connection } = await world.openClient();
    const job = simulatedJob(client, { prompt: 'quick decode', steps: 3 });
    const seen = await watchStates(connection, job.id);
    expect((await submitAndWait(client, job)).type).toBe('result');
    await connection.flush();
    expect(seen.states).toEqual(['queued', 'started', 'progress 1/3', 'completed']);
  });

  it('a job that decodes for a while shows its last step until it completes', async () => {
    await world.startWorker({ generator: new SlowDecodeGenerator(LAST_STEP_STATE_DELAY_MS * 3) });
    const { client, connection } = await world.openClient();
    const job = simulatedJob(client, { prompt: 'slow decode', steps: 3 });
    const seen = await watchStates(connection, job.id);
    expect((await submitAndWait(client, job)).type).toBe('result');
    await connection.flush();
    expect(seen.states).toEqual(['queued', 'started', 'progress 1/3', 'progress 3/3', 'completed']);
  });

  it('publishes the first and last step, and steps between at most every PROGRESS_INTERVAL_MS', async () => {
    // 20 steps of 50 ms: a fast GPU's pace, five steps to an interval.
    await world.startWorker({ msPerStep: 50 });
    const { client } = await world.openClient();
    const job = simulatedJob(client, { prompt: 'progress pace', steps: 20 });
    const received: Progress[] = [];
    const watch = client.watchProgress(job.id, (progress) => {
      // Previews come as they are stored, apart from the pace.
      if (progress.preview === undefined) received.push(progress);
    });
    expect((await submitAndWait(client, job)).type).toBe('result');
    watch.stop();
    const steps = received.map((progress) => progress.step);
    expect(steps[0]).toBe(1);
    expect(steps.at(-1)).toBe(20);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    // Steps between are sent (a 1 s job shows more than its ends), never closer than the interval
    // (the times are whole milliseconds, taken just after the worker's own clock).
    expect(steps.length).toBeGreaterThanOrEqual(3);
    expect(steps.length).toBeLessThanOrEqual(2 + 1000 / PROGRESS_INTERVAL_MS);
    const between = received.slice(0, -1);
    for (let index = 1; index < between.length; index += 1) {
      const gap = between[index]!.at - between[index - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(PROGRESS_INTERVAL_MS - 1);
    }
  });
});
