import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import type { JobSystemStatus, ProvisionReport } from '@sdbot/shared';
import { runSdbot } from '../../helpers/cli.js';
import { describeDistributed } from '../../helpers/distributed-world.js';
import { useTemporaryDirectory } from '../../helpers/temporary-directory.js';

describeDistributed(
  'sdbot nats setup, imagine and status',
  (world) => {
    const temporary = useTemporaryDirectory('sdbot-imagine-');
    const env = { LOG_LEVEL: 'silent' };
    /** `sdbot imagine` against the world's server: the prompt, the output file, then further flags. */
    const imagine = (prompt: string, out: string, ...flags: string[]) =>
      runSdbot(['imagine', '--nats', world.url, '--prompt', prompt, '--out', out, ...flags], env);

    it('nats setup creates every resource once and is idempotent', async () => {
      const first = await runSdbot(['nats', 'setup', '--nats', world.url, '--json'], env);
      expect(first.code).toBe(0);
      expect((JSON.parse(first.stdout) as ProvisionReport).created).toEqual([
        'SDBOT_JOBS',
        'SDBOT_BACKLOG',
        'SDBOT_RESULTS',
        'SDBOT_DEAD_LETTERS',
        'KV_sdbot-jobs',
        'KV_sdbot-workers',
        'KV_sdbot-settings',
        'KV_sdbot-ratelimits',
        'KV_sdbot-preferences',
        'KV_sdbot-quotas',
        'KV_sdbot-dispatch',
        'KV_sdbot-deliveries',
        'OBJ_sdbot-images',
        'OBJ_sdbot-previews',
      ]);
      const again = await runSdbot(['nats', 'setup', '--nats', world.url], env);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/^unchanged: SDBOT_JOBS, SDBOT_BACKLOG, SDBOT_RESULTS/);
      const wrong = await runSdbot(['nats', 'stup', '--nats', world.url], env);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain('expected "sdbot nats setup"');
    });

    it('nats setup updates the settings that changed and keeps the data', async () => {
      const changed = { ...env, SDBOT_JOB_MAX_AGE: '1h', SDBOT_ACK_WAIT: '10s' };
      await runSdbot(['nats', 'setup', '--nats', world.url, '--model', 'sim'], env);
      const connection = await connect({ servers: world.url });
      try {
        await jetstream(connection).publish('sdbot.jobs.sim', '{}');
        const run = await runSdbot(
          ['nats', 'setup', '--nats', world.url, '--model', 'sim', '--json'],
          changed,
        );
        // The backlog keeps jobs as long as the work queue does, so it follows SDBOT_JOB_MAX_AGE too.
        expect((JSON.parse(run.stdout) as ProvisionReport).updated).toEqual([
          'SDBOT_JOBS',
          'SDBOT_BACKLOG',
          'SDBOT_JOBS/workers-sim',
        ]);
        const jsm = await jetstreamManager(connection);
        const info = await jsm.streams.info('SDBOT_JOBS');
        expect([info.config.max_age, info.state.messages]).toEqual([3_600_000_000_000, 1]);
        expect((await jsm.consumers.info('SDBOT_JOBS', 'workers-sim')).config.ack_wait).toBe(10_000_000_000);
        await jsm.streams.purge('SDBOT_JOBS');
        await runSdbot(['nats', 'setup', '--nats', world.url, '--model', 'sim'], env);
      } finally {
        await connection.close();
      }
    });

    it('imagine fails fast with UNKNOWN_MODEL while no worker is online', async () => {
      const run = await imagine('x', join(temporary.path, 'x.png'));
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('error [UNKNOWN_MODEL]: no worker is online');
    });

    it('imagine submits through NATS, shows progress and writes every image', async () => {
      await world.startWorker({ workerId: 'cli-worker', msPerStep: 10 });
      const out = join(temporary.path, 'lighthouse.png');
      const run = await imagine(
        'a lighthouse',
        out,
        ...'--width 64 --height 64 --steps 3 --count 2 --seed 7 --json'.split(' '),
      );
      expect(run.stderr).toContain('step 3/3');
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as { workerId: string; images: { file: string; seed: number }[] };
      expect(result.workerId).toBe('cli-worker');
      expect(result.images.map((image) => [image.file, image.seed])).toEqual([
        [join(temporary.path, 'lighthouse-0.png'), 7],
        [join(temporary.path, 'lighthouse-1.png'), 8],
      ]);
      const second = await sharp(readFileSync(join(temporary.path, 'lighthouse-1.png')))
        .raw()
        .toBuffer();
      expect([...second.subarray(0, 3)]).toEqual([8, 0, 0]);
    });

    it('imagine --init sends the source image to the worker through the object store', async () => {
      const init = join(temporary.path, 'red.png');
      await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 255, g: 0, b: 0 } } })
        .png()
        .toFile(init);
      const out = join(temporary.path, 'from-red.png');
      const run = await imagine(
        'keep it',
        out,
        '--init',
        init,
        ...'--strength 0 --width 64 --height 64 --steps 4'.split(' '),
      );
      expect(run.stderr).toContain('step 1/1');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/from-red\.png {2}seed \d+\n$/);
      const pixels = await sharp(readFileSync(out)).raw().toBuffer();
      expect([...pixels.subarray(0, 3)]).toEqual([255, 0, 0]);
    });

    it('imagine names the flag of a bad option and the code of a failed job', async () => {
      const out = join(temporary.path, 'bad.png');
      const steps = await imagine('x', out, '--steps', '0');
      expect(steps.code).toBe(2);
      expect(steps.stderr).toContain('--steps: must be an integer in 1..150 (got 0)');
      const scheduler = await imagine('x', out, '--scheduler', 'fast');
      expect(scheduler.code).toBe(2);
      expect(scheduler.stderr).toContain('--scheduler: must be one of pndm, ddim');
      const model = await imagine('x', out, '--model', 'sd99');
      expect(model.code).toBe(1);
      expect(model.stderr).toContain('error [UNKNOWN_MODEL]: no worker serves model "sd99" (online: sim)');
    });

    it('status prints workers, queues and dead letters, as text or JSON', async () => {
      const text = await runSdbot(['status', '--nats', world.url], env);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^Workers \(1\):\n {2}ID +MODELS +PROVIDER/);
      expect(text.stdout).toMatch(/ {2}cli-worker +sim +cpu \(simulated\) +0\/1/);
      expect(text.stdout).toMatch(
        /Queues:\n {2}MODEL +QUEUED +BACKLOG\/LANES +RUNNING +WORKERS +OLDEST WAITING\n {2}sim +0 +0\/0 +0 +1 +-\n/,
      );
      expect(text.stdout).toContain('Dead letters: 0');
      const json = await runSdbot(['status', '--nats', world.url, '--json'], env);
      const status = JSON.parse(json.stdout) as JobSystemStatus;
      expect(status.workers.map((w) => w.workerId)).toEqual(['cli-worker']);
      expect(status.queues).toEqual([
        { model: 'sim', queued: 0, backlog: 0, lanes: 0, running: 0, oldestQueuedAt: null, workers: 1 },
      ]);
    });
  },
  { scope: 'file' },
);
