/**
 * A 3-server NATS cluster with every stream replicated 3 times (SDBOT_JS_REPLICAS=3): killing the
 * server that leads the work queue while jobs run loses none and delivers each once. The clients
 * and workers retry through the leader election.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { STREAMS, type JobsClient } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsServerAvailable, startNatsCluster, type NatsTestCluster } from '../../helpers/nats-server.js';
import { OutcomeLedger } from '../../helpers/outcome-ledger.js';
import { openTestClient, startTestWorker, type TestClient, type TestWorker } from '../../helpers/workers.js';
import { testJob } from '../../helpers/jobs.js';

const env = { SDBOT_JS_REPLICAS: '3', SDBOT_ACK_WAIT: '5s', SDBOT_HEARTBEAT_INTERVAL: '1s' };
const guilds = ['111111111111111111', '222222222222222222', '333333333333333333'];

async function leaderOf(client: TestClient, stream: string): Promise<string | undefined> {
  const jsm = await jetstreamManager(client.connection);
  return (await jsm.streams.info(stream)).cluster?.leader;
}

function submitJobs(client: JobsClient, ledger: OutcomeLedger, count: number): Promise<unknown>[] {
  return Array.from({ length: count }, async (_, index) => {
    const guildId = guilds[index % guilds.length] ?? null;
    const job = testJob(client, {
      prompt: `clustered ${String(index)}`,
      model: 'sim',
      steps: 10,
      width: 64,
      height: 64,
      requester: { source: 'discord', guildId, channelId: guildId, userId: `user-${String(index % 7)}` },
    });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: 120_000 });
    ledger.submitted(job.id);
    await client.submit(job, { requireServedModel: false });
    ledger.found(await outcome);
  });
}

describe.skipIf(!natsServerAvailable())('a 3-server cluster with replicated streams', () => {
  let cluster: NatsTestCluster;
  let workers: TestWorker[] = [];
  let requester: TestClient;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    const url = cluster.urls.join(',');
    requester = await openTestClient(url, env);
    workers = await Promise.all(
      ['a', 'b'].map((id) =>
        startTestWorker(url, {
          env: { ...env, SDBOT_WORKER_SLOTS: '2' },
          workerId: `cluster-${id}`,
          msPerStep: 30,
        }),
      ),
    );
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop().catch(() => undefined)));
    await requester.close().catch(() => undefined);
    await cluster.cleanup();
  });

  it('delivers every job exactly once when the work queue leader is killed mid-run', async () => {
    const jsm = await jetstreamManager(requester.connection);
    expect((await jsm.streams.info(STREAMS.jobs)).config.num_replicas).toBe(3);
    const ledger = new OutcomeLedger(requester.connection);
    try {
      const running = submitJobs(requester.client, ledger, 24);
      // Let some finish, then kill whichever server leads the work queue.
      while (24 - ledger.waiting().length < 4) await new Promise((resolve) => setTimeout(resolve, 50));
      const leader = await leaderOf(requester, STREAMS.jobs);
      const victim = cluster.servers.find((server) => server.serverName === leader);
      expect(victim, `leader ${String(leader)} is one of the cluster`).toBeDefined();
      await victim?.kill();
      await Promise.all(running);
      // A newer outcome published after a reconnect would arrive now if there were one.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const figures = ledger.figures();
      expect(figures).toMatchObject({ submitted: 24, delivered: 24, lost: 0, duplicated: 0, failed: 0 });
      expect(await leaderOf(requester, STREAMS.jobs)).not.toBe(leader);
    } finally {
      ledger.close();
    }
  });
});
