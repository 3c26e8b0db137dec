/**
 * `sdbot imagine --syntax`: the job reaches the worker with the raw prompt and the chosen syntax
 * (a1111 by default), and an empty prompt is a valid job.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationJob } from '@sdbot/shared';
import { SimulatedGenerator, type GenerationHooks, type GenerationRequest } from '@sdbot/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSdbot } from '../../helpers/cli.js';
import { natsServerAvailable, startNatsServer, type NatsTestServer } from '../../helpers/nats-server.js';
import { startTestWorker, type TestWorker } from '../../helpers/workers.js';

/** The simulated generator, keeping every job it was given. */
class RecordingGenerator extends SimulatedGenerator {
  readonly jobs: GenerationJob[] = [];
  override generate(request: GenerationRequest, hooks: GenerationHooks) {
    this.jobs.push(request.job);
    return super.generate(request, hooks);
  }
}

describe.skipIf(!natsServerAvailable())('sdbot imagine --syntax', () => {
  let server: NatsTestServer;
  let worker: TestWorker;
  let directory: string;
  const generator = new RecordingGenerator(['sim'], 2);

  beforeAll(async () => {
    server = await startNatsServer();
    worker = await startTestWorker(server.url, { generator });
    directory = mkdtempSync(join(tmpdir(), 'sdbot-imagine-syntax-'));
  });
  afterAll(async () => {
    await worker.stop();
    await server.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  const imagine = (...flags: string[]) =>
    runSdbot(
      [
        'imagine',
        ...['--nats', server.url, '--out', join(directory, 'out.png')],
        ...['--width', '64', '--height', '64', '--steps', '2'],
        ...flags,
      ],
      { LOG_LEVEL: 'silent' },
    );

  it('sends the raw prompt with the a1111 syntax by default, and plain when asked', async () => {
    const a1111 = await imagine('--prompt', '(masterpiece:1.2), a lighthouse BREAK fog');
    expect(a1111.code).toBe(0);
    const plain = await imagine('--prompt', 'a lighthouse', '--syntax', 'plain');
    expect(plain.code).toBe(0);
    expect(generator.jobs.map((job) => [job.prompt, job.syntax])).toEqual([
      ['(masterpiece:1.2), a lighthouse BREAK fog', 'a1111'],
      ['a lighthouse', 'plain'],
    ]);
  });

  it('an empty prompt is a valid job', async () => {
    const run = await imagine('--prompt', '');
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    expect(generator.jobs.at(-1)?.prompt).toBe('');
  });

  it('names --syntax when its value is unknown', async () => {
    const run = await imagine('--prompt', 'x', '--syntax', 'nai');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--syntax: must be one of a1111, plain');
  });
});
