#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so `npx sdbot` works right after `npm ci`.
import { register } from 'tsx/esm/api';

register();
// One handler for failures nothing else caught: a redacted log line and a non-zero exit.
const { installProcessGuards } = await import('../src/cli/process-guard.ts');
installProcessGuards();
const { runCli } = await import('../src/cli/main.ts');
const controller = new AbortController();
let interrupts = 0;
// SIGHUP: the terminal went away (a closed window, a dropped SSH session); stop as on Ctrl-C
// instead of dying and leaving child processes (nats-server, workers) behind. A hangup often
// arrives twice (from the kernel and from the shell), so only a second Ctrl-C or SIGTERM means
// the operator does not want to wait for a graceful shutdown.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (signal === 'SIGHUP') {
      // The terminal is gone: writes to it fail (EIO), which must not end the shutdown early.
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    } else interrupts += 1;
    if (interrupts > 1) process.exit(130);
    controller.abort(signal);
  });
}
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
