import type { CommandManifestEntry } from './command.js';

export const commands: CommandManifestEntry[] = [
  {
    name: 'config',
    summary: 'Check the configuration and print it (secrets hidden), or list every variable',
    load: async () => (await import('./config-command.js')).configCommand,
  },
  {
    name: 'imagine',
    summary: 'Generate images through NATS on whichever worker is free, and save them',
    load: async () => (await import('./imagine-command.js')).imagineCommand,
  },
  {
    name: 'nats',
    summary: 'Create or update the NATS streams, consumers, KV buckets and object store (nats setup)',
    load: async () => (await import('./nats-command.js')).natsCommand,
  },
  {
    name: 'up',
    summary: 'Run everything on this machine: a local NATS server, one worker per model, and the bot',
    load: async () => (await import('./up-command.js')).upCommand,
  },
  {
    name: 'status',
    summary: 'Show live workers, the queue of each model and the latest dead letters',
    load: async () => (await import('./status-command.js')).statusCommand,
  },
];
