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
for (const signal of ['SIGINT', 'SIGTERM']) {
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
