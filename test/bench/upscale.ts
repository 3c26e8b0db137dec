/**
 * Super-resolution time and peak process memory with the trained RDN models in
 * ../shared/upscaler-rdn: 512x512 to 1024 (2x model) and to 2048 (4x model), whole image and in
 * tiles (SDBOT_UPSCALE_TILE's default). Each case runs in its own process so its peak memory is
 * its own. `--large=1` adds 1024x1024 to 4096, the case the default tile must keep under 2 GB;
 * `--provider=cuda` runs on a GPU. Prints a table; asserts nothing. Run: `npm run bench -- upscale`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_OVERLAP, DEFAULT_TILE } from '../../worker/src/upscale/upscaler.js';
import { numberArg, printTable } from '../helpers/bench.js';
import { repositoryRoot, sharedFixture } from '../helpers/shared-fixtures.js';

interface Measured {
  seconds: number;
  peakMiB: number;
  output: string;
  provider: string;
}

function runCase(model: string, side: number, target: number, tile: number, provider: string): Measured {
  const script = join(repositoryRoot, 'test', 'helpers', 'upscale-bench-case.ts');
  const tsx = join(repositoryRoot, 'node_modules', '.bin', 'tsx');
  const args = [script, model, String(side), String(target), String(tile), String(DEFAULT_OVERLAP), provider];
  const output = execFileSync(tsx, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = output.trim().split('\n').at(-1) ?? '{}';
  return JSON.parse(line) as Measured;
}

export function run(args: string[]): Promise<void> {
  const fixture = sharedFixture('upscaler-rdn');
  if (!fixture.available) {
    console.log(`skipped: ${fixture.path} not found`);
    return Promise.resolve();
  }
  const provider = args.some((arg) => arg === '--provider=cuda') ? 'cuda' : 'cpu';
  const cases: [string, number, number, string][] = [
    ['x2', 512, 1024, '512 -> 1024 (2x model)'],
    ['x4', 512, 2048, '512 -> 2048 (4x model)'],
  ];
  if (numberArg(args, 'large', 0) > 0) cases.push(['x4', 1024, 4096, '1024 -> 4096 (4x model)']);
  const rows: [string, string][] = [['case', 'time (s)   peak RSS (MiB)   provider']];
  for (const [model, side, target, label] of cases) {
    for (const [mode, tile] of [
      ['whole', 0],
      [`tiles ${DEFAULT_TILE}/${DEFAULT_OVERLAP}`, DEFAULT_TILE],
    ] as const) {
      const measured = runCase(join(fixture.path, model), side, target, tile, provider);
      rows.push([
        `${label}, ${mode}`,
        `${measured.seconds.toFixed(1).padStart(8)}   ${measured.peakMiB.toFixed(0).padStart(14)}   ${measured.provider}`,
      ]);
    }
  }
  printTable(rows);
  return Promise.resolve();
}
