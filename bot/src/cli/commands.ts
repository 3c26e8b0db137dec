import type { CommandManifestEntry } from '@sdbot/shared';

/** Commands this package adds to `sdbot`; each loads its implementation only when run. */
export const commands: CommandManifestEntry[] = [
  {
    name: 'register-commands',
    summary: 'Register the slash commands with Discord, globally or in one guild',
    load: async () => (await import('./register-commands-command.js')).registerCommandsCommand,
  },
];
