/**
 * `sdbot imagine` in a terminal: one progress bar line redrawn in place (queue position, then the
 * step in the steps asked for, percent, it/s and ETA), the preview's path, then the final file
 * and seed. Without a terminal it keeps `step N/M` lines. (The simulated worker reports one call
 * per step; the PNDM warm-up note for real models is covered by the unit test of the bar.)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { runSdbot } from '../../helpers/cli.js';
import { describeDistributed } from '../../helpers/distributed-world.js';
import { waitUntilListed } from '../../helpers/listed-worker.js';
import { ptyAvailable, spawnSdbotInPty } from '../../helpers/pty.js';
import { useTemporaryDirectory } from '../../helpers/temporary-directory.js';

describeDistributed(
  'sdbot imagine in a terminal',
  (world) => {
    const temporary = useTemporaryDirectory('sdbot-imagine-tty-');

    beforeAll(async () => {
      world.spawnWorker({
        id: 'tty',
        msPerStep: 60,
        env: { SDBOT_PREVIEW_EVERY: '2', SDBOT_HEARTBEAT_INTERVAL: '1s' },
      });
      // The worker is there once `imagine` can pick its model.
      await waitUntilListed(world.url, 'tty');
    }, 60_000);

    const args = (out: string) => [
      'imagine',
      '--nats',
      world.url,
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

    it.skipIf(!ptyAvailable())(
      'draws one bar with the steps asked for, speed, ETA, the preview path, then the file and seed',
      async () => {
        const out = join(temporary.path, 'tty.png');
        const run = spawnSdbotInPty(args(out), { LOG_LEVEL: 'silent' });
        expect(await run.exited).toBe(0);
        const shown = run.output();
        expect(shown).toContain('queued');
        expect(shown).toMatch(/[#.]{24} +\d+% \| step \d\/8 \| [\d.]+ it\/s \| ETA \d+s/);
        expect(shown).toMatch(/100% \| step 8\/8 \|/);
        expect(shown).not.toMatch(/step \d+\/9/);
        expect(shown).toContain(`preview ${join(temporary.path, 'tty-preview.png')}`);
        expect(existsSync(join(temporary.path, 'tty-preview.png'))).toBe(true);
        expect(shown).toContain(`${out}  seed 7`);
        // Redrawn in place: no line per step.
        expect(shown.split('\n').filter((line) => line.includes('step ')).length).toBeLessThanOrEqual(2);
      },
      60_000,
    );

    it('keeps plain step lines without a terminal', async () => {
      const run = await runSdbot(args(join(temporary.path, 'plain.png')), { LOG_LEVEL: 'silent' });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('step 8/8');
      expect(run.stderr).not.toContain('it/s');
    }, 60_000);
  },
  { scope: 'file' },
);
