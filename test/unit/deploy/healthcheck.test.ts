/**
 * deploy/docker/healthcheck.js is what Docker runs to decide whether a container is healthy: it
 * must pass only when the process answers its health endpoint with 2xx.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDirectory } from '../../helpers/deploy-files.js';
import { freePort } from '../../helpers/ports.js';

const script = join(deployDirectory, 'docker', 'healthcheck.js');

interface Outcome {
  code: number;
  stderr: string;
}

function runHealthcheck(args: string[], port: string | undefined): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  if (port !== undefined) env.SDBOT_METRICS_PORT = port;
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env, timeout: 15_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr });
    });
  });
}

describe('container health check script', () => {
  let server: Server;
  let port: string;

  beforeAll(async () => {
    // A stand-in for the metrics endpoint: alive, but not ready.
    server = createServer((request, response) => {
      if (request.url === '/healthz') response.writeHead(200).end('ok\n');
      else if (request.url === '/readyz') response.writeHead(503).end('not ready\n');
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = String((server.address() as AddressInfo).port);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('passes when /healthz (the default path) answers 200', async () => {
    expect(await runHealthcheck([], port)).toEqual({ code: 0, stderr: '' });
    expect((await runHealthcheck(['/healthz'], port)).code).toBe(0);
  });

  it('fails, saying the status, when the endpoint answers 503', async () => {
    const outcome = await runHealthcheck(['/readyz'], port);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('/readyz: answered 503');
  });

  it('fails, saying why, when nothing listens on the port', async () => {
    const outcome = await runHealthcheck([], String(await freePort()));
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/ECONNREFUSED/);
  });

  it('fails when SDBOT_METRICS_PORT is not set', async () => {
    const outcome = await runHealthcheck([], undefined);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('SDBOT_METRICS_PORT is not set');
  });
});
