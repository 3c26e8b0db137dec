/**
 * `sdbot status` in a terminal: coloured tables, `--watch` redrawing until Ctrl-C; without a
 * terminal, plain text (the same tables, no escape codes) and `--watch --json` one object a line.
 */
import { beforeAll, expect, it } from 'vitest';
import type { JobSystemStatus } from '@sdbot/shared';
import { runSdbot } from '../../helpers/cli.js';
import { describeDistributed } from '../../helpers/distributed-world.js';
import { waitUntilListed } from '../../helpers/listed-worker.js';
import { ptyAvailable, spawnSdbotInPty } from '../../helpers/pty.js';

const ESC = '\x1b[';
const ESC_PATTERN = String.raw`\u001b\[`;

describeDistributed(
  'sdbot status for people',
  (world) => {
    beforeAll(async () => {
      world.spawnWorker({ id: 'status-tty', env: { SDBOT_HEARTBEAT_INTERVAL: '1s' } });
      await waitUntilListed(world.url, 'status-tty');
    }, 60_000);

    it.skipIf(!ptyAvailable())(
      'colours the tables on a terminal and --watch redraws until Ctrl-C',
      async () => {
        const run = spawnSdbotInPty(['status', '--nats', world.url, '--watch', '--interval', '300ms'], {
          LOG_LEVEL: 'silent',
        });
        await run.waitFor(/sdbot status[\s\S]*sdbot status[\s\S]*Dead letters/, 20_000);
        run.type('\x03');
        expect(await run.exited).toBe(0);
        const shown = run.output();
        expect(shown).toContain(`${ESC}H${ESC}2J`);
        expect(shown).toContain(`${ESC}1mWorkers (1):`);
        // Busy/free slots in green (one free), the model in cyan.
        expect(shown).toMatch(new RegExp(`${ESC_PATTERN}32m0/1\\s*${ESC_PATTERN}39m`));
        expect(shown).toMatch(new RegExp(`${ESC_PATTERN}36msim\\s*${ESC_PATTERN}39m`));
      },
    );

    it('prints plain tables without a terminal, and --watch --json as one object a line', async () => {
      const plain = await runSdbot(['status', '--nats', world.url], { LOG_LEVEL: 'silent' });
      expect(plain.stdout).not.toContain(ESC);
      expect(plain.stdout).toMatch(/ {2}status-tty +sim +cpu \(simulated\) +0\/1/);

      const stop = new AbortController();
      const watching = runSdbot(
        ['status', '--nats', world.url, '--watch', '--json', '--interval', '200ms'],
        { LOG_LEVEL: 'silent' },
        stop.signal,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      stop.abort();
      const run = await watching;
      expect(run.code).toBe(0);
      const frames = run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as JobSystemStatus);
      expect(frames.length).toBeGreaterThanOrEqual(2);
      expect(frames[0]?.workers.map((w) => w.workerId)).toEqual(['status-tty']);
    });
  },
  { scope: 'file' },
);
