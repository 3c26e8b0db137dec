import type { CommandManifestEntry } from '@sdbot/shared';

/** Commands this package adds to `sdbot`; each loads its implementation only when run. */
export const commands: CommandManifestEntry[] = [
  {
    name: 'bot',
    summary: 'Run the Discord bot: slash commands, buttons, progress and results over NATS',
    load: async () => (await import('./bot-command.js')).botCommand,
  },
  {
    name: 'register-commands',
    summary: 'Register the slash commands with Discord, globally or in one guild',
    load: async () => (await import('./register-commands-command.js')).registerCommandsCommand,
  },
];
