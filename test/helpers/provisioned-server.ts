/**
 * A nats-server for the tests of one file, with the JetStream resources they need provisioned as
 * `nats setup` would, and one connection to it: started before the file's tests, stopped after.
 *   const nats = useProvisionedServer({ resources: ['images'] });
 *   it('...', () => jetstream(nats.connection) ...);
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { loadConfig, provisionJetStream, type ProvisionOptions } from '@sdbot/shared';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsTestServer } from './nats-server.js';

export interface ProvisionedServer {
  readonly server: NatsTestServer;
  readonly connection: NatsConnection;
}

export function useProvisionedServer(options: Omit<ProvisionOptions, 'logger'>): ProvisionedServer {
  let server: NatsTestServer | undefined;
  let connection: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer();
    connection = await connect({ servers: server.url });
    await provisionJetStream(await jetstreamManager(connection), loadConfig({ env: {} }), options);
  });
  afterAll(async () => {
    await connection?.close();
    await server?.cleanup();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the provisioned server is used before its tests start');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get connection() {
      return started(connection);
    },
  };
}
