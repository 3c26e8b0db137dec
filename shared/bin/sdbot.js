#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so `npx sdbot` works right after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
const controller = new AbortController();
let interrupts = 0;
// SIGHUP: the terminal went away (a closed window, a dropped SSH session); stop as on Ctrl-C
// instead of dying and leaving child processes (nats-server, workers) behind.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    interrupts += 1;
    // A second signal means the operator does not want to wait for a graceful shutdown.
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
