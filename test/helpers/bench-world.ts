/**
 * The distributed benchmarks' setting: a nats-server, in-process simulated workers and one
 * requester (previews off, so they cost nothing), all stopped once the benchmark is done.
 */
import type { GenerationJob, JobsClient } from '@sdbot/shared';
import { testJob } from './jobs.js';
import { startNatsServer } from './nats-server.js';
import {
  cliRequester,
  openTestClient,
  startTestWorker,
  type TestClient,
  type TestWorker,
} from './workers.js';

export interface BenchWorldOptions {
  workers: number;
  /** Worker ids are `${workerPrefix}-0`, `${workerPrefix}-1`, … */
  workerPrefix: string;
  msPerStep: number;
}

/** Runs `body` against the started world and stops everything after it, whether it threw or not. */
export async function withBenchWorld(
  { workers: count, workerPrefix, msPerStep }: BenchWorldOptions,
  body: (world: { workers: TestWorker[]; requester: TestClient }) => Promise<void>,
): Promise<void> {
  const env = { SDBOT_PREVIEW_EVERY: '0' };
  const server = await startNatsServer();
  const workers = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      startTestWorker(server.url, { workerId: `${workerPrefix}-${index}`, msPerStep, env }),
    ),
  );
  const requester = await openTestClient(server.url, env);
  try {
    await body({ workers, requester });
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await requester.close();
    await server.cleanup();
  }
}

/** A 64x64 job of the simulated model. */
export function benchJob(client: JobsClient, prompt: string, steps: number): GenerationJob {
  return testJob(client, { prompt, model: 'sim', requester: cliRequester, steps, width: 64, height: 64 });
}
