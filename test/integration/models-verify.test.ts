import { chmodSync, cpSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSdbot } from '../helpers/cli.js';
import { tinySd } from '../helpers/tiny-sd.js';
import { useTemporaryDirectory } from '../helpers/temporary-directory.js';

const env = { SDBOT_THREADS: '1' };
const PARTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder', 'safety_checker'];

/** A writable copy of tiny-sd (the shared one is read-only) to break on purpose. */
function copyModel(into: string, name: string): string {
  const target = join(into, name);
  cpSync(tinySd.path, target, { recursive: true });
  const makeWritable = (path: string): void => {
    const directory = statSync(path).isDirectory();
    chmodSync(path, directory ? 0o755 : 0o644);
    if (directory) for (const entry of readdirSync(path)) makeWritable(join(path, entry));
  };
  makeWritable(target);
  return target;
}

interface JsonReport {
  download: { present: boolean; detail: string };
  parts: {
    part: string;
    status: string;
    file?: string;
    peakRssBytes?: number;
    inputs?: { name: string; dtype: string }[];
  }[];
  problems: string[];
}

describe.skipIf(!tinySd.available)(`sdbot models verify${tinySd.skipNote}`, () => {
  const scratch = useTemporaryDirectory('sdbot-verify-');

  it('passes tiny-sd, listing every part, its ports and a one-step generation', async () => {
    const run = await runSdbot(['models', 'verify', tinySd.path], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('not downloaded by sdbot');
    expect(run.stdout).toMatch(/^PART +STATUS +DETAIL +TIME +PEAK RSS$/m);
    for (const part of PARTS) {
      expect(run.stdout).toMatch(new RegExp(`^${part} +OK +fp32`, 'm'));
      expect(run.stdout).toContain(join(tinySd.path, part, 'model.onnx'));
    }
    expect(run.stdout).toContain('timestep float32 rank 1');
    expect(run.stdout).toContain('in  input_ids: int32 [batch, sequence]');
    expect(run.stdout).toMatch(/^generate \(1 step, 64x64\) +OK .* s +\d+ MiB$/m);
    expect(run.stdout).toContain('all checks passed');
  });

  it('--json gives the same report for machines', async () => {
    const run = await runSdbot(['models', 'verify', tinySd.path, '--json'], env);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.problems).toEqual([]);
    expect(report.download.present).toBe(false);
    expect(report.parts.map((part) => [part.part, part.status])).toEqual([
      ...PARTS.map((part) => [part, 'ok']),
      ['generate (1 step, 64x64)', 'ok'],
    ]);
    // Each check reports the process's peak memory while it ran.
    for (const part of report.parts) expect(part.peakRssBytes).toBeGreaterThan(10 * 1024 ** 2);
    const unet = report.parts.find((part) => part.part === 'unet');
    expect(unet?.inputs?.find((input) => input.name === 'timestep')?.dtype).toBe('float32');
  });

  it('fails naming a deleted part, and still checks the others', async () => {
    const model = copyModel(scratch.path, 'no-decoder');
    rmSync(join(model, 'vae_decoder', 'model.onnx'));
    const run = await runSdbot(['models', 'verify', model], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('[MODEL_INVALID]');
    expect(run.stderr).toContain(`vae_decoder: ${join(model, 'vae_decoder', 'model.onnx')} is missing`);
    expect(run.stdout).toMatch(/^vae_decoder +FAILED/m);
    expect(run.stdout).toMatch(/^unet +OK/m);
    expect(run.stdout).toMatch(/^generate \(1 step, 64x64\) +SKIPPED/m);
  });

  it('fails naming a corrupt unet/model.onnx', async () => {
    const model = copyModel(scratch.path, 'corrupt-unet');
    const file = join(model, 'unet', 'model.onnx');
    writeFileSync(file, 'this is not a protobuf');
    const run = await runSdbot(['models', 'verify', model], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`${file}: cannot be loaded as an ONNX model`);
    expect(run.stdout).toMatch(/^unet +FAILED/m);
  });

  it('reports the download marker and files changed since the download', async () => {
    const model = copyModel(scratch.path, 'downloaded');
    const marker = {
      repo: 'example/tiny-sd',
      revision: 'main',
      commit: '0123456789abcdef0123456789abcdef01234567',
      root: '',
      completedAt: '2026-01-02T03:04:05.000Z',
      files: [{ path: 'model_index.json', size: 1 }],
    };
    writeFileSync(join(model, '.sdbot-download.json'), JSON.stringify(marker));
    const run = await runSdbot(['models', 'verify', model], env);
    expect(run.stdout).toContain('downloaded by sdbot: example/tiny-sd@main (commit 0123456789ab)');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      `${join(model, 'model_index.json')} is missing or differs in size from what was downloaded`,
    );
  });

  it('needs a directory', async () => {
    const run = await runSdbot(['models', 'verify'], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('verify needs a model directory');
  });
});
