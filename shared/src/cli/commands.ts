import type { CommandManifestEntry } from './command.js';

export const commands: CommandManifestEntry[] = [
  {
    name: 'config',
    summary: 'Check the configuration and print it (secrets hidden), or list every variable',
    load: async () => (await import('./config-command.js')).configCommand,
  },
];
