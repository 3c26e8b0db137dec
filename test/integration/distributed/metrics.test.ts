import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INBOX_PREFIXES,
  JobsClient,
  JobsClientMetrics,
  connectNats,
  runCli,
  startMetricsServer,
  type NatsConnection,
} from '@sdbot/shared';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { freePort } from '../../helpers/ports.js';
import { simulatedJob, submitAndWait } from '../../helpers/distributed-world.js';
import { testConfig } from '../../helpers/workers.js';
import { waitForWorkers } from '../../helpers/worker-process.js';

const available = natsServerAvailable();

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

describe.skipIf(!available)('metrics and health endpoints', () => {
  let server: NatsTestServer;
  let connection: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    connection = await connectNats(testConfig(server.url).nats, {
      name: 'metrics-test',
      inboxPrefix: INBOX_PREFIXES.bot,
    });
  });

  afterAll(async () => {
    await connection.close();
    await server.cleanup();
  });

  it('a worker serves /metrics, /healthz and /readyz on SDBOT_METRICS_PORT and leaves the registry on shutdown', async () => {
    const port = await freePort();
    const controller = new AbortController();
    const output = new PassThrough().resume();
    const worker = runCli(
      ['worker', '--nats', server.url, '--model', 'sim', '--simulate', '5', '--id', 'metered'],
      {
        stdout: output,
        stderr: output,
        env: { LOG_LEVEL: 'silent', SDBOT_METRICS_PORT: String(port) },
        signal: controller.signal,
      },
    );
    const registry = new Registry();
    const client = await JobsClient.open(connection, testConfig(server.url), {
      metrics: new JobsClientMetrics(registry),
    });
    try {
      await waitForWorkers(client, ['metered']);
      const job = simulatedJob(client, { prompt: 'count me', steps: 4, count: 2 });
      expect((await submitAndWait(client, job)).type).toBe('result');

      const base = `http://127.0.0.1:${port}`;
      expect(await get(`${base}/healthz`)).toEqual({ status: 200, text: 'ok\n' });
      expect(await get(`${base}/readyz`)).toEqual({ status: 200, text: 'ready\n' });
      expect((await get(`${base}/nothing`)).status).toBe(404);
      const metrics = (await get(`${base}/metrics`)).text;
      expect(metrics).toContain('sdbot_worker_jobs_total{model="sim",outcome="completed"} 1');
      expect(metrics).toContain('sdbot_worker_images_total{model="sim"} 2');
      expect(metrics).toContain('sdbot_worker_queue_wait_seconds_count{model="sim"} 1');
      expect(metrics).toContain('sdbot_worker_step_seconds_count{model="sim"} 4');
      expect(metrics).toContain('sdbot_worker_slots 1');
      expect(metrics).toContain('process_cpu_seconds_total');

      const clientMetrics = await registry.metrics();
      expect(clientMetrics).toContain('sdbot_jobs_submitted_total{model="sim"} 1');
      expect(clientMetrics).toContain('sdbot_job_outcomes_total{type="result",code="OK"} 1');
      expect(clientMetrics).toContain('sdbot_job_seconds_count 1');
    } finally {
      controller.abort();
    }
    expect(await worker).toBe(0);
    expect((await client.liveWorkers()).map((heartbeat) => heartbeat.workerId)).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('/readyz answers 503 while the process cannot work', async () => {
    const endpoint = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      isReady: () => false,
    });
    try {
      expect(await get(`http://127.0.0.1:${endpoint.port}/readyz`)).toEqual({
        status: 503,
        text: 'not ready\n',
      });
      const post = await fetch(`http://127.0.0.1:${endpoint.port}/metrics`, { method: 'POST' });
      expect(post.status).toBe(405);
    } finally {
      await endpoint.close();
    }
  });
});
