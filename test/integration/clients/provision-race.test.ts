/**
 * Processes that start together (two workers, a bot) provision the same streams at once: the one
 * that loses the creation race looks again instead of failing its start.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { provisionJetStream } from '@sdbot/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { testConfig } from '../../helpers/workers.js';

describe.skipIf(!natsServerAvailable())('concurrent provisioning', () => {
  let server: NatsTestServer;

  beforeAll(async () => {
    server = await startNatsServer();
  });

  afterAll(async () => {
    await server.cleanup();
  });

  it('six processes provisioning a fresh server at once all start', async () => {
    const config = testConfig(server.url);
    const connections = await Promise.all(Array.from({ length: 6 }, () => connect({ servers: server.url })));
    try {
      const reports = await Promise.all(
        connections.map(async (connection) =>
          provisionJetStream(await jetstreamManager(connection), config, { models: ['sim'] }),
        ),
      );
      // Every process ends up with every resource in place, whoever created it.
      for (const report of reports) {
        expect([...report.created, ...report.updated, ...report.unchanged]).toContain('SDBOT_JOBS');
      }
      const jsm = await jetstreamManager(connections[0]!);
      expect((await jsm.streams.names().next()).length).toBeGreaterThanOrEqual(10);
    } finally {
      await Promise.all(connections.map((connection) => connection.close()));
    }
  });
});
