import type { CommandManifestEntry } from '@sdbot/shared';

/** Commands this package adds to `sdbot`; each loads its implementation only when run. */
export const commands: CommandManifestEntry[] = [
  {
    name: 'worker',
    summary: 'Run a worker: pull generation jobs from NATS for the models it loads',
    load: async () => (await import('./worker-command.js')).workerCommand,
  },
];
