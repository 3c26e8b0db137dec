import { PassThrough } from 'node:stream';
import { runCli } from '@sdbot/shared';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sdbot ...args` in this process with captured output. */
export async function runSdbot(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  signal = new AbortController().signal,
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await runCli(args, { stdout, stderr, env, signal });
  return { code, stdout: out, stderr: err };
}
