/**
 * `npm run bench -- NAME --vs=REV`: the same benchmark run on the sources of an earlier commit and
 * on today's, one after the other on this machine, with a table of both and their ratio. The
 * benchmark and its helpers are today's in both runs, so both measure the same thing; only
 * shared/, bot/ and worker/ differ.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositoryRoot } from './shared-fixtures.js';

const WORKSPACES = ['shared', 'bot', 'worker'];

/** A checkout of `rev`'s sources in a temporary folder, with today's test/ and dependencies. */
function checkoutBaseline(rev: string): string {
  const folder = mkdtempSync(join(tmpdir(), 'sdbot-bench-baseline-'));
  const archive = execFileSync('git', ['-C', repositoryRoot, 'archive', '--format=tar', rev, ...WORKSPACES], {
    maxBuffer: 1 << 30,
  });
  execFileSync('tar', ['-x', '-C', folder], { input: archive });
  for (const file of ['package.json', 'tsconfig.json'])
    cpSync(join(repositoryRoot, file), join(folder, file));
  cpSync(join(repositoryRoot, 'test'), join(folder, 'test'), { recursive: true });
  // Dependencies are today's, except that the workspaces resolve to the baseline's sources.
  const modules = join(folder, 'node_modules');
  mkdirSync(join(modules, '@sdbot'), { recursive: true });
  for (const entry of readdirSync(join(repositoryRoot, 'node_modules'))) {
    if (entry !== '@sdbot') symlinkSync(join(repositoryRoot, 'node_modules', entry), join(modules, entry));
  }
  for (const workspace of WORKSPACES)
    symlinkSync(join(folder, workspace), join(modules, '@sdbot', workspace));
  return folder;
}

function runBench(cwd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/run.ts', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`the benchmark in ${cwd} exited with ${String(code)}`));
    });
  });
}

/** `label  value` rows of a printed table whose value starts with a number. */
function numericRows(output: string): Map<string, { text: string; value: number }> {
  const rows = new Map<string, { text: string; value: number }>();
  for (const line of output.split('\n')) {
    const match = /^(\S.*?|\s+\S.*?)\s{2,}(-?\d[\d.]*)(.*)$/.exec(line);
    if (match === null) continue;
    const [, label = '', number = '', rest = ''] = match;
    rows.set(label, { text: `${number}${rest}`.trim(), value: Number(number) });
  }
  return rows;
}

export async function runAgainstBaseline(rev: string, args: readonly string[]): Promise<void> {
  const baseline = checkoutBaseline(rev);
  try {
    console.log(
      `\n##### baseline: ${rev} (${execFileSync('git', ['-C', repositoryRoot, 'rev-parse', '--short', rev]).toString().trim()})`,
    );
    const before = numericRows(await runBench(baseline, args));
    console.log('\n##### now: the working tree');
    const after = numericRows(await runBench(repositoryRoot, args));
    console.log(`\n##### ${rev} -> now, same machine, one after the other`);
    const width = Math.max(...[...after.keys()].map((label) => label.length));
    for (const [label, now] of after) {
      const then = before.get(label);
      const ratio = then === undefined || then.value === 0 ? '' : `x${(now.value / then.value).toFixed(2)}`;
      console.log(
        `${label.padEnd(width)}  ${(then?.text ?? '-').padEnd(22)}  ${now.text.padEnd(22)}  ${ratio}`,
      );
    }
  } finally {
    rmSync(baseline, { recursive: true, force: true });
  }
}
