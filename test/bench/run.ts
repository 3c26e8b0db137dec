/**
 * `npm run bench [-- NAME...]`: runs every benchmark module in this folder (each prints its own
 * table when imported), or only those named, one after another.
 */
import { readdirSync } from 'node:fs';

const folder = new URL('.', import.meta.url);
const available = readdirSync(folder)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => file.slice(0, -'.ts'.length))
  .sort();
const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}

for (const name of requested.length > 0 ? requested : available) {
  console.log(`\n# ${name}`);
  await import(new URL(`${name}.ts`, folder).href);
}
