/**
 * The distributed test world: a real nats-server, in-process simulated workers, `sdbot worker`
 * child processes and job clients, all stopped after each test (or after the file, `scope: 'file'`),
 * plus the jobs and outcome bookkeeping the distributed tests share. A test reads as what it does:
 *
 *   describeDistributed('jobs', (world) => {
 *     it('runs one', async () => {
 *   await world.startWorker({ msPerStep: 20 });
 *   const { client } = await world.openClient();
 *   expect((await submitAndWait(client, simulatedJob(client, { prompt: 'x', steps: 3 }))).type).toBe('result');
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect } from 'vitest';
import {
  SUBJECTS,
  collectStatus,
  decodeMessage,
  jobOutcomeSchema,
  type GenerationJob,
  type Job,
  type JobOutcome,
  type JobsClient,
  type NatsConnection,
} from '@sdbot/shared';
import { testJob, type TestJobRequest } from './jobs.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from './nats-server.js';
import { spawnWorker, type WorkerProcess } from './worker-process.js';
import { cliRequester, openTestClient, startTestWorker } from './workers.js';
import type { TestClient, TestWorker, TestWorkerOptions } from './workers.js';

export interface DistributedWorld {
  readonly server: NatsTestServer;
  readonly url: string;
  /** An in-process worker (simulated model `sim` unless told otherwise). */
  startWorker(options?: TestWorkerOptions): Promise<TestWorker>;
  /** `sdbot worker --simulate` as a child process, for tests that kill it. */
  spawnWorker(options: Parameters<typeof spawnWorker>[1]): WorkerProcess;
  /** A requester's own connection and jobs client. */
  openClient(env?: NodeJS.ProcessEnv): Promise<TestClient>;
}

/** Registers the hooks that start the server and stop everything the test started, in order. */
export function useDistributedWorld({ scope = 'test' }: { scope?: 'test' | 'file' } = {}): DistributedWorld {
  let server: NatsTestServer | undefined;
  let processes: WorkerProcess[] = [];
  let workers: TestWorker[] = [];
  let clients: TestClient[] = [];
  const running = (): NatsTestServer => {
    if (server === undefined) throw new Error('the distributed world is not running outside a test');
    return server;
  };
  const world: DistributedWorld = {
    get server() {
      return running();
    },
    get url() {
      return running().url;
    },
    async startWorker(options) {
      const worker = await startTestWorker(running().url, options);
      workers.push(worker);
      return worker;
    },
    spawnWorker(options) {
      const child = spawnWorker(running().url, options);
      processes.push(child);
      return child;
    },
    async openClient(env) {
      const client = await openTestClient(running().url, env);
      clients.push(client);
      return client;
    },
  };
  const start = async (): Promise<void> => {
    server = await startNatsServer();
  };
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((child) => child.kill('SIGKILL')));
    await Promise.all(workers.map((worker) => worker.stop()));
    await Promise.all(clients.map((client) => client.close()));
    [processes, workers, clients] = [[], [], []];
    await server?.cleanup();
    server = undefined;
  };
  if (scope === 'test') {
    beforeEach(start);
    afterEach(stop);
  } else {
    beforeAll(start);
    afterAll(stop);
  }
  return world;
}

/**
 * A describe block with its own distributed world per test (or one for the whole block, `scope:
 * 'file'`); skipped where nats-server is missing.
 */
export function describeDistributed(
  name: string,
  body: (world: DistributedWorld) => void,
  options: { scope?: 'test' | 'file' } = {},
): void {
  describe.skipIf(!natsServerAvailable())(name, () => {
    body(useDistributedWorld(options));
  });
}

/** What a test says about a simulated job; the rest is a small 64x64 job of the `sim` model. */
export type SimulatedJobRequest = Omit<TestJobRequest, 'model' | 'requester'> &
  Partial<Pick<TestJobRequest, 'model' | 'requester'>>;

export function simulatedJob(client: JobsClient, request: SimulatedJobRequest): GenerationJob {
  return testJob(client, { model: 'sim', requester: cliRequester, width: 64, height: 64, ...request });
}

/** Submits `job` and waits for its outcome (awaited before submitting, so none is missed). */
export async function submitAndWait(client: JobsClient, job: Job, timeoutMs = 20_000): Promise<JobOutcome> {
  const waiting = client.awaitOutcome(job.id, { timeoutMs });
  await client.submit(job);
  return waiting;
}

/** Asserts the newest dead letter: the job, its failure code and how many deliveries it got. */
export async function expectNewestDeadLetter(
  { client, connection }: TestClient,
  expected: { jobId: string; code: string; deliveries: number },
): Promise<void> {
  const status = await collectStatus(await jetstreamManager(connection), client.workers);
  expect(status.deadLetters.recent[0]).toMatchObject(expected);
}

/** Every outcome published on the results subject, and the job ids, in publishing order. */
export function recordOutcomes(connection: NatsConnection): {
  outcomes: JobOutcome[];
  order: string[];
  stop(): void;
} {
  const outcomes: JobOutcome[] = [];
  const order: string[] = [];
  const subscription = connection.subscribe(SUBJECTS.resultsAll, {
    callback: (_error, message) => {
      const outcome = decodeMessage(jobOutcomeSchema, message.data);
      outcomes.push(outcome);
      order.push(outcome.jobId);
    },
  });
  return {
    outcomes,
    order,
    stop: () => {
      subscription.unsubscribe();
    },
  };
}

/** Polls `check` every 100 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
