import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  natsServerAvailable,
  startNatsCluster,
  startNatsServer,
  type NatsTestServer,
} from '../helpers/nats-server.js';

const available = natsServerAvailable();
if (!available) console.warn('[sdbot tests] nats-server not found on PATH: skipping NATS integration tests');

describe.skipIf(!available)('nats-server test harness', () => {
  let server: NatsTestServer | undefined;
  let connection: NatsConnection | undefined;

  afterEach(async () => {
    await connection?.close().catch(() => undefined);
    connection = undefined;
    await server?.cleanup();
    server = undefined;
  });

  it('round-trips a message through JetStream and keeps it across SIGKILL + restart', async () => {
    server = await startNatsServer();
    expect(server.port).not.toBe(4222);
    connection = await connect({ servers: server.url });
    const manager = await jetstreamManager(connection);
    await manager.streams.add({
      name: 'HARNESS',
      subjects: ['harness.>'],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    await manager.consumers.add('HARNESS', { durable_name: 'reader', ack_policy: 'explicit' });
    const js = jetstream(connection);
    const ack = await js.publish('harness.one', 'first', { msgID: 'job-1' });
    expect(ack.seq).toBe(1);
    const duplicate = await js.publish('harness.one', 'first', { msgID: 'job-1' });
    expect(duplicate.duplicate).toBe(true);
    await js.publish('harness.two', 'second');

    const consumer = await js.consumers.get('HARNESS', 'reader');
    const first = await consumer.next({ expires: 2000 });
    expect(first?.string()).toBe('first');
    await first?.ackAck();

    // SIGKILL: no graceful flush. The unacknowledged second message must survive on disk.
    await connection.close();
    await server.kill();
    expect(server.process?.signalCode).toBe('SIGKILL');
    await server.start();

    connection = await connect({ servers: server.url });
    const afterRestart = await jetstream(connection).consumers.get('HARNESS', 'reader');
    const second = await afterRestart.next({ expires: 5000 });
    expect(second?.string()).toBe('second');
    expect(second?.subject).toBe('harness.two');
    await second?.ackAck();
  });

  it('restart() brings the server back on the same port and store', async () => {
    server = await startNatsServer();
    const { port, storeDir } = server;
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.storeDir).toBe(storeDir);
    connection = await connect({ servers: server.url });
    expect(connection.info?.jetstream).toBe(true);
  });

  it('starts a 3-node JetStream cluster that keeps a replicated stream', async () => {
    const cluster = await startNatsCluster(3);
    try {
      connection = await connect({ servers: cluster.urls });
      const manager = await jetstreamManager(connection);
      const info = await manager.streams.add({
        name: 'REPLICATED',
        subjects: ['replicated.>'],
        num_replicas: 3,
      });
      expect(info.config.num_replicas).toBe(3);
      await jetstream(connection).publish('replicated.a', 'x');
      const state = await manager.streams.info('REPLICATED');
      expect(state.cluster?.replicas?.length).toBe(2);
      expect(state.state.messages).toBe(1);
    } finally {
      await connection?.close();
      connection = undefined;
      await cluster.cleanup();
    }
  });
});
