/** Shared state between bot replicas, tested against a real server: each replica holds its own connection. */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsTestServer } from './nats-server.js';

/**
 * A nats-server for the tests of one file and two plain connections to it, as two bot replicas
 * hold them; all closed after the file.
 */
export function useReplicaConnections(): {
  server: NatsTestServer;
  first: NatsConnection;
  second: NatsConnection;
} {
  let started: { server: NatsTestServer; first: NatsConnection; second: NatsConnection } | undefined;
  const running = () => {
    if (started === undefined) throw new Error('the nats-server is not started outside the tests');
    return started;
  };
  beforeAll(async () => {
    const server = await startNatsServer();
    started = {
      server,
      first: await connect({ servers: server.url }),
      second: await connect({ servers: server.url }),
    };
  });
  afterAll(async () => {
    await started?.first.close();
    await started?.second.close();
    await started?.server.cleanup();
  });
  return {
    get server() {
      return running().server;
    },
    get first() {
      return running().first;
    },
    get second() {
      return running().second;
    },
  };
}
