/**
 * In-process workers and job clients against a test nats-server: each gets its own connection,
 * as separate processes would.
 */
import {
  INBOX_PREFIXES,
  JobsClient,
  connectNats,
  createLogger,
  loadConfig,
  type Config,
  type NatsConnection,
  type Requester,
} from '@sdbot/shared';
import {
  SimulatedGenerator,
  WorkerService,
  createWorkerMetrics,
  type ImageGenerator,
  type WorkerMetrics,
} from '@sdbot/worker';

export interface TestWorker {
  service: WorkerService;
  connection: NatsConnection;
  metrics: WorkerMetrics;
  stop(): Promise<void>;
}

export function testConfig(url: string, env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({ env: { NATS_URL: url, LOG_LEVEL: 'silent', ...env } });
}

export interface TestWorkerOptions {
  models?: string[];
  msPerStep?: number;
  env?: NodeJS.ProcessEnv;
  workerId?: string;
  generator?: ImageGenerator;
}

let workerCount = 0;

export async function startTestWorker(
  url: string,
  { models = ['sim'], msPerStep = 5, env = {}, workerId, generator }: TestWorkerOptions = {},
): Promise<TestWorker> {
  workerCount += 1;
  const id = workerId ?? `test-worker-${process.pid}-${workerCount}`;
  const config = testConfig(url, env);
  const connection = await connectNats(config.nats, { name: id, inboxPrefix: INBOX_PREFIXES.worker });
  const metrics = createWorkerMetrics();
  const service = await WorkerService.start({
    connection,
    generator: generator ?? new SimulatedGenerator(models, msPerStep),
    config,
    workerId: id,
    version: 'test',
    logger: createLogger({ name: 'worker', level: config.log.level }),
    metrics,
  });
  return {
    service,
    connection,
    metrics,
    stop: async () => {
      await service.stop();
      await connection.close();
    },
  };
}

export interface TestClient {
  client: JobsClient;
  connection: NatsConnection;
  close(): Promise<void>;
}

export async function openTestClient(url: string, env: NodeJS.ProcessEnv = {}): Promise<TestClient> {
  const config = testConfig(url, env);
  const connection = await connectNats(config.nats, { name: 'test-client', inboxPrefix: INBOX_PREFIXES.bot });
  const client = await JobsClient.open(connection, config);
  return { client, connection, close: () => connection.close() };
}

export const cliRequester: Requester = { source: 'cli', guildId: null, channelId: null, userId: 'tester' };

/** Sum of a worker counter's values matching `labels`. */
export async function counterValue(
  metrics: WorkerMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  return (metric?.values ?? [])
    .filter((value) => Object.entries(labels).every(([key, expected]) => value.labels[key] === expected))
    .reduce((sum, value) => sum + value.value, 0);
}
