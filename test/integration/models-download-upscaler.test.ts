/**
 * `sdbot models download` on an upscaler repository (one .onnx file next to PyTorch weights, images
 * and a model card), served by the local imitation of the hub: only the ONNX file is fetched, and
 * the worker can load what landed.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Upscaler } from '../../worker/src/upscale/upscaler.js';
import { runSdbot } from '../helpers/cli.js';
import { fakeCommit, startFakeHub, type FakeHub } from '../helpers/fake-hub.js';
import { useScratchDirectories } from '../helpers/scratch-directories.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

const rdn = sharedFixture('upscaler-rdn');
let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});
const tempDir = useScratchDirectories('sdbot-upscaler-download-');

describe.skipIf(!rdn.available)(`sdbot models download of an upscaler${rdn.skipNote}`, () => {
  it('fetches the one .onnx file, and the worker loads it', async () => {
    const onnx = await readFile(join(rdn.path, 'x2', 'model.onnx'));
    const commit = fakeCommit({
      'README.md': '# 2x upscaler',
      'RealESRGAN_x2.pth': randomBytes(20_000),
      'sample.png': randomBytes(3000),
      'onnx/rdn_x2.onnx': onnx,
    });
    hub = await startFakeHub({ repos: [{ id: 'acme/rdn-x2-onnx', refs: { main: commit } }] });
    const dir = join(await tempDir(), 'rdn-x2');
    const run = await runSdbot(['models', 'download', 'acme/rdn-x2-onnx', '--dir', dir], {
      HF_ENDPOINT: hub.url,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`serve it with: SDBOT_UPSCALERS=${dir}`);
    expect((await readdir(dir)).sort()).toEqual(['.sdbot-download.json', 'rdn_x2.onnx']);
    expect((await readFile(join(dir, 'rdn_x2.onnx'))).equals(onnx)).toBe(true);
    const upscaler = await Upscaler.load(dir, {
      provider: 'cpu',
      intraOpThreads: 1,
      graphOptimization: 'all',
    });
    expect(upscaler.info).toMatchObject({ id: 'rdn-x2', scale: 2, input: 'image', output: 'upscaled' });
    await upscaler.release();
  });

  it('asks for --file when the repository holds several .onnx files', async () => {
    const commit = fakeCommit({ 'x2.onnx': randomBytes(1000), 'x4.onnx': randomBytes(1000) });
    hub = await startFakeHub({ repos: [{ id: 'acme/many', refs: { main: commit } }] });
    const dir = join(await tempDir(), 'many');
    const refused = await runSdbot(['models', 'download', 'acme/many', '--dir', dir], {
      HF_ENDPOINT: hub.url,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      'holds several .onnx files (x2.onnx, x4.onnx): pick one with --file PATH',
    );
    const picked = await runSdbot(['models', 'download', 'acme/many', '--file', 'x4.onnx', '--dir', dir], {
      HF_ENDPOINT: hub.url,
    });
    expect(picked.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['.sdbot-download.json', 'x4.onnx']);
  });
});
