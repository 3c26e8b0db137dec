/**
 * `sdbot imagine` in a terminal: one progress bar line redrawn in place (queue position, then the
 * step in the steps asked for, percent, it/s and ETA), the preview's path, then the final file
 * and seed. Without a terminal it keeps `step N/M` lines. (The simulated worker reports one call
 * per step; the PNDM warm-up note for real models is covered by the unit test of the bar.)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSdbot } from '../../helpers/cli.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { ptyAvailable, spawnSdbotInPty } from '../../helpers/pty.js';
import { spawnWorker, type WorkerProcess } from '../../helpers/worker-process.js';

const runs = natsServerAvailable() && ptyAvailable();

describe.skipIf(!runs)('sdbot imagine in a terminal', () => {
  let nats: NatsTestServer;
  let worker: WorkerProcess;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdbot-imagine-tty-'));
    nats = await startNatsServer();
    worker = spawnWorker(nats.url, {
      id: 'tty',
      msPerStep: 60,
      env: { SDBOT_PREVIEW_EVERY: '2', SDBOT_HEARTBEAT_INTERVAL: '1s' },
    });
    // The worker is there once `imagine` can pick its model.
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const probe = await runSdbot(['status', '--nats', nats.url, '--json'], { LOG_LEVEL: 'silent' });
      if (probe.stdout.includes('"workerId": "tty"')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 60_000);

  afterAll(async () => {
    await worker.kill('SIGTERM');
    await nats.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (out: string) => [
    'imagine',
    '--nats',
    nats.url,
    '--prompt',
    'a lighthouse at dusk',
    '--steps',
    '8',
    '--width',
    '64',
    '--height',
    '64',
    '--seed',
    '7',
    '--out',
    out,
  ];

  it('draws one bar with the steps asked for, speed, ETA, the preview path, then the file and seed', async () => {
    const out = join(dir, 'tty.png');
    const run = spawnSdbotInPty(args(out), { LOG_LEVEL: 'silent' });
    expect(await run.exited).toBe(0);
    const shown = run.output();
    expect(shown).toContain('queued');
    expect(shown).toMatch(/[#.]{24} +\d+% \| step \d\/8 \| [\d.]+ it\/s \| ETA \d+s/);
    expect(shown).toMatch(/100% \| step 8\/8 \|/);
    expect(shown).not.toMatch(/step \d+\/9/);
    expect(shown).toContain(`preview ${join(dir, 'tty-preview.png')}`);
    expect(existsSync(join(dir, 'tty-preview.png'))).toBe(true);
    expect(shown).toContain(`${out}  seed 7`);
    // Redrawn in place: no line per step.
    expect(shown.split('\n').filter((line) => line.includes('step ')).length).toBeLessThanOrEqual(2);
  }, 60_000);

  it('keeps plain step lines without a terminal', async () => {
    const run = await runSdbot(args(join(dir, 'plain.png')), { LOG_LEVEL: 'silent' });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('step 8/8');
    expect(run.stderr).not.toContain('it/s');
  }, 60_000);
});
