/**
 * What a CPU worker with SD 1.5 (fp32) needs at 512x512, measured on random-weight exports of its
 * UNet and VAE decoder at their real sizes (test/bench/sd15-export/export.py: weights' values do
 * not change memory or time). Each probe is a fresh process opening the file with the worker's
 * own session code; its peak is the kernel's high-water mark. The text encoder, VAE encoder and
 * safety checker add their weights (their activations at 77 tokens and 224x224 are small), from
 * their parameter counts.
 *
 * `--dir=PATH` (or SDBOT_SD15_EXPORT): the folder export.py wrote. `--runs=N` per probe (3).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PREPACK_MAX_BYTES } from '../../worker/src/diffusion/backend/onnx.js';
import { MIB } from '../../worker/src/diffusion/peak-rss.js';
import { formatColumns, numberArg, runProbe } from '../helpers/bench.js';
import type { SessionProbeInput, SessionProbeResult } from '../helpers/session-memory-probe.js';

/** fp32 weights of the parts not exported: text encoder 123M, VAE encoder 34M, safety checker 304M. */
const OTHER_WEIGHTS_BYTES = (123_060_480 + 34_163_592 + 303_981_588) * 4;
const GIB = 1024 ** 3;

const SDBOT = { cpuMemArena: false, prepackMaxBytes: DEFAULT_PREPACK_MAX_BYTES };
const PROBES = [
  { label: 'UNet, sdbot defaults (1 row a run)', part: 'unet', rows: 1, ...SDBOT },
  { label: 'UNet, sdbot defaults but 2 rows a run', part: 'unet', rows: 2, ...SDBOT },
  {
    label: 'UNet, onnxruntime defaults (arena on, prepack), 2 rows',
    part: 'unet',
    rows: 2,
    cpuMemArena: true,
    prepackMaxBytes: 2 ** 52,
  },
  { label: 'VAE decoder, sdbot defaults', part: 'vae_decoder', rows: 1, ...SDBOT },
] as const;

function folderBytes(folder: string): number {
  return readdirSync(folder).reduce((sum, name) => sum + statSync(join(folder, name)).size, 0);
}

export async function run(args: string[]): Promise<void> {
  const dir =
    args.find((arg) => arg.startsWith('--dir='))?.slice('--dir='.length) ?? process.env.SDBOT_SD15_EXPORT;
  const files = {
    unet: join(dir ?? '', 'unet/model.onnx'),
    vae_decoder: join(dir ?? '', 'vae_decoder/model.onnx'),
  };
  if (dir === undefined || !existsSync(files.unet) || !existsSync(files.vae_decoder)) {
    console.log(
      'sd15-memory skipped: no export. Make one with `python3 test/bench/sd15-export/export.py DIR` (needs torch, ' +
        'about 3.5 GB of disk) and run `npm run bench -- sd15-memory --dir=DIR`.',
    );
    return;
  }
  const runs = numberArg(args, 'runs', 3);
  const size = 512;
  const lines = [['probe (512x512)', 'RSS before load', 'peak after load', 'peak after runs', 'runs (s)']];
  const peaks = new Map<string, number>();
  for (const { label, ...setting } of PROBES) {
    const input: SessionProbeInput = { file: files[setting.part], size, runs, ...setting };
    const result = await runProbe<SessionProbeResult>('test/helpers/session-memory-probe.ts', input);
    if (typeof result === 'string') {
      lines.push([label, result]);
      continue;
    }
    peaks.set(label, result.maxRssBytes);
    lines.push([
      label,
      `${(result.baselineBytes / MIB).toFixed(0)} MiB`,
      `${(result.loadedMaxRssBytes / MIB).toFixed(0)} MiB`,
      `${(result.maxRssBytes / MIB).toFixed(0)} MiB`,
      result.runMs.map((ms) => (ms / 1000).toFixed(1)).join(' '),
    ]);
  }
  console.log(formatColumns(lines));

  // A worker holds every part; the UNet's and the VAE decoder's activations come at different times.
  const unetWeights = folderBytes(join(dir, 'unet'));
  const estimate = (unetPeak: number | undefined) => {
    const vaePeak = peaks.get(PROBES[3].label);
    if (unetPeak === undefined || vaePeak === undefined) return 'a probe failed';
    const duringUnet = unetPeak + folderBytes(join(dir, 'vae_decoder')) + OTHER_WEIGHTS_BYTES;
    const duringVae = vaePeak + unetWeights + OTHER_WEIGHTS_BYTES;
    return `${(Math.max(duringUnet, duringVae) / GIB).toFixed(2)} GiB (during the UNet ${(duringUnet / GIB).toFixed(2)}, during the VAE decode ${(duringVae / GIB).toFixed(2)}; without the safety checker ${((Math.max(duringUnet, duringVae) - 303_981_588 * 4) / GIB).toFixed(2)})`;
  };
  console.log(`\nSD 1.5 fp32 CPU worker at 512x512, whole model loaded:`);
  console.log(`  sdbot defaults:                 ${estimate(peaks.get(PROBES[0].label))}`);
  console.log(`  sdbot defaults but 2 rows a run: ${estimate(peaks.get(PROBES[1].label))}`);
}
