/** Shared by the benchmarks: `--name=value` arguments, percentiles, tables and probe processes. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repositoryRoot } from './shared-fixtures.js';

/** Reads `--name=value` (the bench runner passes only dash arguments), or the default. */
export function numberArg(args: string[], name: string, fallback: number): number {
  const prefix = `--${name}=`;
  const raw = args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} must be a non-negative number (got ${raw})`);
  return value;
}

export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function printTable(rows: readonly (readonly [string, string])[]): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value}`);
}

/** Rows of cells as aligned columns, the first row being the header. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n');
}

/**
 * Runs a probe script (relative to the repository) in a fresh process with `input` as JSON in
 * argv[2], and returns the JSON of its last output line, or why it failed (its last error line).
 */
export async function runProbe<T>(script: string, input: unknown): Promise<T | string> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(repositoryRoot, script), JSON.stringify(input)],
      { cwd: repositoryRoot, encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 1024 ** 2 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    return `failed: ${stderr.trim().split('\n').at(-1) ?? ''}`;
  }
}
