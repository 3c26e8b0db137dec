/**
 * Discord emulators and the discord.js clients logged in to them, for the emulator's own end-to-end
 * tests: a test's emulators and clients are closed after it, and an emulator must have seen no
 * protocol errors.
 */
import { once } from 'node:events';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { expect } from 'vitest';
import {
  startDiscordEmulator,
  type DiscordEmulator,
  type DiscordEmulatorOptions,
} from '../discord-emulator/index.js';

export class EmulatorSessions {
  readonly #emulators: DiscordEmulator[] = [];
  readonly #clients: Client[] = [];

  async start(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
    const emulator = await startDiscordEmulator(options);
    this.#emulators.push(emulator);
    return emulator;
  }

  /** Keeps a client the test built itself, to destroy it with the others. */
  track<C extends Client>(client: C): C {
    this.#clients.push(client);
    return client;
  }

  /** A discord.js client logged in to `emulator` with `intents`, once it is ready. */
  async connect(emulator: DiscordEmulator, intents = [GatewayIntentBits.Guilds]): Promise<Client<true>> {
    const client = this.track(new Client({ intents, rest: { api: emulator.apiUrl, timeout: 5000 } }));
    await Promise.all([once(client, Events.ClientReady), client.login(emulator.botToken)]);
    if (!client.isReady()) throw new Error('client is not ready after login');
    return client;
  }

  /** Destroys the clients, closes the emulators, and expects none of them to have seen errors. */
  async closeAll(): Promise<void> {
    await Promise.all(this.#clients.splice(0).map((client) => client.destroy()));
    const closing = this.#emulators.splice(0);
    await Promise.all(closing.map((emulator) => emulator.close()));
    for (const emulator of closing) expect(emulator.errors).toEqual([]);
  }
}
