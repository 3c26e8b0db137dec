/**
 * Runs `sdbot` under a pseudo-terminal with util-linux `script`, so the command sees a TTY on
 * stdin, stdout and stderr as it does in an operator's terminal. Killing `script` closes the
 * terminal: the kernel then sends SIGHUP to the command, as when a window or SSH session closes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { repositoryRoot } from './shared-fixtures.js';
import { childEnv, sdbotEntryPoint } from './worker-process.js';

export function ptyAvailable(): boolean {
  return spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
}

export interface PtyRun {
  child: ChildProcess;
  /** Everything the terminal showed so far (CR LF line ends, escape sequences included). */
  output(): string;
  /** Resolves with the output once `pattern` appears; rejects after `timeoutMs`. */
  waitFor(pattern: string | RegExp, timeoutMs: number): Promise<string>;
  /** Types into the terminal. */
  type(text: string): void;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `sdbot ...args` in a terminal 120 columns wide; `exec` makes it the session leader. */
export function spawnSdbotInPty(args: string[], env: NodeJS.ProcessEnv = {}): PtyRun {
  const command = [
    'stty cols 120 rows 40 2>/dev/null;',
    'exec',
    shellQuote(process.execPath),
    shellQuote(sdbotEntryPoint),
    ...args.map(shellQuote),
  ].join(' ');
  const child = spawn('script', ['--quiet', '--return', '--flush', '--command', command, '/dev/null'], {
    cwd: repositoryRoot,
    env: { ...childEnv(env), SHELL: '/bin/sh', TERM: 'xterm-256color' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      for (const check of waiters) check();
      resolve(code);
    });
  });
  return {
    child,
    output: () => output,
    exited,
    type: (text) => child.stdin.write(text),
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const matches = () => (typeof pattern === 'string' ? output.includes(pattern) : pattern.test(output));
        const check = () => {
          if (!matches()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(output);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${String(pattern)}; the terminal showed:\n${output}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}
