/** Waiting for a worker the way an operator would: until `sdbot status` lists it. */
import { runSdbot } from './cli.js';

/** Polls `sdbot status --json` every 200 ms; fails after 100 tries without the worker. */
export async function waitUntilListed(url: string, workerId: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const probe = await runSdbot(['status', '--nats', url, '--json'], { LOG_LEVEL: 'silent' });
    if (probe.stdout.includes(`"workerId": "${workerId}"`)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`sdbot status did not list worker ${workerId} after 100 tries`);
}
