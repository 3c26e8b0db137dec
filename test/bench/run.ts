/**
 * `npm run bench [-- NAME...]`: runs every benchmark module in this folder, or the named ones.
 * A benchmark module prints its own table and asserts nothing about time; it either exports
 * `run(args)` or does its work when imported. `--vs=REV` runs the named benchmarks on REV's
 * sources too and prints before/after (see helpers/bench-baseline.ts).
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule {
  run(args: string[]): Promise<void>;
}

function isBenchModule(value: unknown): value is BenchModule {
  return (
    typeof value === 'object' && value !== null && typeof (value as { run?: unknown }).run === 'function'
  );
}

const folder = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(folder)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => basename(file, '.ts'))
  .sort();
const args = process.argv.slice(2);
const requested = args.filter((arg) => !arg.startsWith('-'));
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const vs = args.find((arg) => arg.startsWith('--vs='))?.slice('--vs='.length);
if (vs !== undefined) {
  const { runAgainstBaseline } = await import('../helpers/bench-baseline.js');
  await runAgainstBaseline(
    vs,
    args.filter((arg) => !arg.startsWith('--vs=')),
  );
  process.exit(0);
}
for (const name of requested.length > 0 ? requested : available) {
  console.log(`\n== ${name}`);
  const module: unknown = await import(pathToFileURL(`${folder}${name}.ts`).href);
  if (isBenchModule(module)) await module.run(args.filter((arg) => arg.startsWith('-')));
}
