/**
 * Timings of seeded noise and prompt tokenization (CPU, single thread). Prints a table; asserts
 * nothing. Run: `npx tsx test/bench/noise-tokenizer.ts` (tokenizer rows need ../shared).
 */
import { join } from 'node:path';
import { createNoiseGenerator } from '../../worker/src/diffusion/noise.js';
import { ClipTokenizer } from '../../worker/src/diffusion/tokenizer.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

interface Row {
  case: string;
  firstMs: string;
  medianMs: string;
}

async function measure(name: string, runs: number, work: () => unknown): Promise<Row> {
  let start = performance.now();
  await work();
  const firstMs = performance.now() - start;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { case: name, firstMs: firstMs.toFixed(2), medianMs: (times[times.length >> 1] ?? 0).toFixed(3) };
}

const rows: Row[] = [];
for (const source of ['numpy', 'torch'] as const) {
  for (const [label, count] of [
    ['1x4x64x64 (512 px)', 4 * 64 * 64],
    ['4x4x64x64 (batch of 4)', 4 * 4 * 64 * 64],
    ['1x4x128x128 (1024 px)', 4 * 128 * 128],
  ] as const) {
    const generator = createNoiseGenerator(source, 1234);
    rows.push(await measure(`${source} randn ${label}`, 50, () => generator.randn(count)));
  }
}

const tokenizerDir = sharedFixture('tiny-sd');
if (tokenizerDir.available) {
  const path = join(tokenizerDir.path, 'tokenizer');
  rows.push(await measure('tokenizer load', 5, () => ClipTokenizer.fromDirectory(path)));
  const tokenizer = await ClipTokenizer.fromDirectory(path);
  let n = 0;
  rows.push(
    await measure('encode (new words each time)', 200, () =>
      tokenizer.encode(`masterpiece, best quality, a lighthouse on a cliff at dusk, variant ${n++}`),
    ),
  );
}

console.table(rows);
