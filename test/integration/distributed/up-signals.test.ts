/**
 * `sdbot up` as an operator runs it: in a terminal (pretty output, a summary, nats-server's own
 * output in a log file) and as a service (JSON lines), and stopping everything it started when
 * its terminal goes away (SIGHUP) as on SIGTERM, so the next `up` finds the port free.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsServerAvailable } from '../../helpers/nats-server.js';
import { freePort } from '../../helpers/ports.js';
import { alive } from '../../helpers/process-alive.js';
import { ptyAvailable, spawnSdbotInPty } from '../../helpers/pty.js';
import { repositoryRoot } from '../../helpers/shared-fixtures.js';
import { childEnv, sdbotEntryPoint } from '../../helpers/worker-process.js';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => {
      resolve(false);
    });
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolve(true);
      });
    });
  });
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** nats-server starts every line of its log with `[PID]`. */
function natsPid(dataDir: string): number {
  const match = /^\[(\d+)\]/m.exec(readFileSync(join(dataDir, 'nats-server.log'), 'utf8'));
  if (match === null) throw new Error('no nats-server pid in its log');
  return Number(match[1]);
}

describe.skipIf(!natsServerAvailable())('sdbot up: signals and terminals', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sdbot-up-signals-'));
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('logs JSON lines without a terminal and stops everything on SIGHUP, leaving the port free', async () => {
    const port = await freePort();
    const data = join(root, 'hup');
    const child = spawn(
      process.execPath,
      [sdbotEntryPoint, 'up', '--simulate', '5', '--model', 'sim', '--data', data, '--port', String(port)],
      { cwd: repositoryRoot, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await eventually(() => log.includes('"process":"worker sim"'), 30_000, 'the worker started');
      const lines = log.trim().split('\n');
      for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
      expect(log).not.toContain('Starting nats-server');
      await eventually(
        () => /^\[\d+\]/m.test(readFileSync(join(data, 'nats-server.log'), 'utf8')),
        10_000,
        "nats-server's log has its first line",
      );
      const workers = [...log.matchAll(/"process":"worker sim","childPid":(\d+)/g)].map((m) => Number(m[1]));
      const nats = natsPid(data);
      expect(alive(nats)).toBe(true);

      // A closed terminal often delivers two hangups (the kernel's and the shell's): still graceful.
      child.kill('SIGHUP');
      child.kill('SIGHUP');
      expect(await exited).toBe(0);
      expect(log).toContain('"signal":"SIGHUP"');
      for (const pid of [nats, ...workers]) expect(alive(pid), `process ${pid}`).toBe(false);
      expect(await portFree(port)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it.skipIf(!ptyAvailable())('--log-format json forces JSON lines on a terminal too', async () => {
    const port = await freePort();
    const run = spawnSdbotInPty(
      [
        'up',
        '--simulate',
        '5',
        '--model',
        'sim',
        '--data',
        join(root, 'forced'),
        '--port',
        String(port),
      ].concat(['--log-format', 'json']),
    );
    try {
      const shown = await run.waitFor(/"msg":"up:ready"/, 60_000);
      expect(shown).toMatch(/^\{"level":"info".*"msg":"nats:started"/m);
      expect(shown).not.toContain('sdbot is up');
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
      await eventually(() => portFree(port), 30_000, 'the port is free');
    }
  });

  it.skipIf(!ptyAvailable())(
    'in a terminal: a summary and readable logs, nats-server output in its log file; a closed terminal stops it all',
    async () => {
      const port = await freePort();
      const data = join(root, 'tty');
      const run = spawnSdbotInPty(
        ['up', '--simulate', '5', '--model', 'sim', '--data', data, '--port', String(port)],
        { LOG_LEVEL: 'info' },
      );
      try {
        // The terminal may deliver the summary in pieces: wait for its last line.
        const shown = await run.waitFor(`npx sdbot status --nats nats://127.0.0.1:${port} --watch`, 60_000);
        expect(shown).toContain('sdbot is up');
        expect(shown).toContain(`nats://127.0.0.1:${port}`);
        expect(shown).toContain('nats-server.log');
        expect(shown).toMatch(/worker\s+sim\s+simulated/);
        expect(shown).toContain('set DISCORD_TOKEN');
        expect(shown).toContain(`npx sdbot imagine --nats nats://127.0.0.1:${port}`);
        // Pretty lines, not JSON; nats-server's banner went to its file.
        expect(shown).toMatch(/INFO.*nats:started/);
        expect(shown).not.toMatch(/^\{"level"/m);
        expect(shown).not.toContain('Starting nats-server');
        // Piped into the file asynchronously: the banner lands there shortly after the server is up.
        await eventually(
          () => readFileSync(join(data, 'nats-server.log'), 'utf8').includes('Starting nats-server'),
          10_000,
          "nats-server's banner is in its log file",
        );
        // The summary's "starting" is followed by a line once the worker is ready.
        await run.waitFor(/worker:online.*"provider":"simulated"/, 30_000);
        const nats = natsPid(data);

        // The terminal goes away: `script` dies and the kernel hangs up its session.
        run.child.kill('SIGKILL');
        await eventually(() => !alive(nats), 30_000, 'nats-server stopped');
        await eventually(() => portFree(port), 10_000, 'the port is free');
      } finally {
        run.child.kill('SIGKILL');
      }
    },
  );
});
