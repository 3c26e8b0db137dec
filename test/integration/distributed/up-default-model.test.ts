/**
 * `sdbot up` with no model, as a new operator types it: it names the default export, its size and
 * destination, asks on a terminal (or takes --yes), downloads it from the hub with progress
 * (resuming an interrupted download) and starts a worker on it. Offline, one clear paragraph.
 * The hub is the local imitation the download tests use, serving the tiny-sd fixture under the
 * default repository's name.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODELS } from '../../../shared/src/cli/default-model.js';
import { runSdbot } from '../../helpers/cli.js';
import { commitFromDirectory, startFakeHub, type FakeHub } from '../../helpers/fake-hub.js';
import { natsServerAvailable } from '../../helpers/nats-server.js';
import { freePort } from '../../helpers/ports.js';
import { ptyAvailable, spawnSdbotInPty } from '../../helpers/pty.js';
import { repositoryRoot, sharedFixture } from '../../helpers/shared-fixtures.js';
import { childEnv, sdbotEntryPoint } from '../../helpers/worker-process.js';

const DEFAULT = DEFAULT_MODELS.cpu;
const tinySd = sharedFixture('tiny-sd');

async function eventually(check: () => boolean, timeoutMs: number, what: string, log: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting until ${what}; output:\n${log()}`);
}

function spawnUp(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [sdbotEntryPoint, 'up', ...args], {
    cwd: repositoryRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, log: () => log, exited };
}

describe.skipIf(!natsServerAvailable() || !tinySd.available)(
  `sdbot up without a model${tinySd.skipNote}`,
  () => {
    let hub: FakeHub;
    let root: string;

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'sdbot-up-default-'));
      const commit = await commitFromDirectory(tinySd.path);
      hub = await startFakeHub({ repos: [{ id: DEFAULT.repo, refs: { main: commit } }] });
    });

    afterAll(async () => {
      await hub.close();
      rmSync(root, { recursive: true, force: true });
    });

    // Two `up` processes, a download and a worker start: each wait has its own 60 s deadline, so the
    // test as a whole gets room for both on a busy machine.
    it(
      'downloads the default model with --yes, resumes an interrupted download, and starts a worker on it',
      { timeout: 180_000 },
      async () => {
        const cache = join(root, 'cache-yes');
        const modelDir = join(cache, 'sdbot', 'models', DEFAULT.folder);
        const env = { HF_ENDPOINT: hub.url, XDG_CACHE_HOME: cache, LOG_LEVEL: 'info' };
        const port = await freePort();
        const args = ['--yes', '--data', join(root, 'data-yes'), '--port', String(port)];

        // The text encoder stalls part-way; the operator gives up with Ctrl-C.
        hub.setFault('text_encoder/model.onnx', { stallAfterBytes: 1_000_000 });
        const first = spawnUp(args, env);
        const partial = join(modelDir, 'text_encoder', 'model.onnx.partial');
        await eventually(
          () => existsSync(partial) && statSync(partial).size >= 1_000_000,
          60_000,
          'the partial download holds bytes',
          first.log,
        );
        expect(first.log()).toContain(`the fp32 ONNX export ${DEFAULT.repo}`);
        expect(first.log()).toContain('about 5.5 GB');
        expect(first.log()).toContain(modelDir);
        first.child.kill('SIGINT');
        expect(await first.exited).not.toBe(0);
        expect(existsSync(join(modelDir, '.sdbot-download.json'))).toBe(false);

        const second = spawnUp(args, env);
        try {
          await eventually(
            () => /"process":"worker [^"]+","childPid"/.test(second.log()),
            60_000,
            'a worker was started on the downloaded model',
            second.log,
          );
          expect(second.log()).toContain('(a previous download is resumed)');
          const cdn = hub
            .fileRequests('text_encoder/model.onnx')
            .filter((request) => request.server === 'cdn');
          const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn.at(-1)?.headers.range ?? '')?.[1]);
          expect(resumedAt).toBeGreaterThanOrEqual(1_000_000);
          expect(existsSync(join(modelDir, '.sdbot-download.json'))).toBe(true);
          expect(readdirSync(modelDir)).toContain('unet');
          expect(second.log()).toContain(`"worker ${modelDir}"`);
        } finally {
          second.child.kill('SIGTERM');
          expect(await second.exited).toBe(0);
        }
      },
    );

    it('refuses to start a download without a terminal or --yes', async () => {
      const cache = join(root, 'cache-no');
      const run = await runSdbot(['up', '--data', join(root, 'data-no')], {
        HF_ENDPOINT: hub.url,
        XDG_CACHE_HOME: cache,
        LOG_LEVEL: 'silent',
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('npx sdbot up --yes');
      expect(existsSync(join(cache, 'sdbot'))).toBe(false);
    });

    it('offline: fails with one paragraph naming --simulate and models download', async () => {
      const closed = await freePort();
      const run = await runSdbot(['up', '--yes', '--data', join(root, 'data-offline')], {
        HF_ENDPOINT: `http://127.0.0.1:${closed}`,
        XDG_CACHE_HOME: join(root, 'cache-offline'),
        LOG_LEVEL: 'silent',
      });
      expect(run.code).toBe(1);
      const error = run.stderr.split('\n').find((line) => line.startsWith('sdbot: error')) ?? '';
      expect(error).toContain(`could not download the default model ${DEFAULT.repo}`);
      expect(error).toContain('npx sdbot up --simulate 50 --model demo');
      expect(error).toContain(`npx sdbot models download ${DEFAULT.repo}`);
      // At once, not after the download's retries.
      expect(run.stderr).not.toContain('retrying');
      expect(error).toContain('ECONNREFUSED');
      expect(existsSync(join(root, 'data-offline'))).toBe(false);
    }, 20_000);

    it.skipIf(!ptyAvailable())(
      'in a terminal: asks, draws a progress bar while downloading, then shows the summary',
      async () => {
        const cache = join(root, 'cache-tty');
        const port = await freePort();
        const run = spawnSdbotInPty(['up', '--data', join(root, 'data-tty'), '--port', String(port)], {
          HF_ENDPOINT: hub.url,
          XDG_CACHE_HOME: cache,
        });
        try {
          await run.waitFor('Download it now? [Y/n]', 30_000);
          run.type('y\r');
          // The bar: percent, bytes done of total, speed, ETA and files.
          const shown = await run.waitFor('sdbot is up', 90_000);
          expect(shown).toMatch(/\d+% \[[#.]+\] [\d.]+ \w?i?B \/ [\d.]+ MiB .*ETA .*\d+\/\d+ files/);
          expect(shown).toContain('fetched  unet/weights.pb');
          expect(shown).toMatch(/worker\s+stable-diffusion-v1-5-ONNX\s+cpu/);
          expect(existsSync(join(cache, 'sdbot', 'models', DEFAULT.folder, '.sdbot-download.json'))).toBe(
            true,
          );
        } finally {
          run.child.kill('SIGKILL');
          await run.exited;
        }
      },
    );
  },
);
