/**
 * What the bot's end-to-end tests share beyond the world itself: the permissions of a server admin,
 * a message's buttons by label, its attachment, and /settings sent as an admin.
 */
import {
  customIdsOf,
  type CommandOptionValue,
  type EmulatorInteraction,
  type EmulatorMessage,
} from '../discord-emulator/index.js';
import { beforeAll } from 'vitest';
import { buttonLabels, privateAnswer, useBotWorld, type BotWorld } from './bot-world.js';

/** The permissions of a member who may change the server's settings. */
export const ADMIN = ['ManageGuild', 'ViewChannel', 'SendMessages', 'UseApplicationCommands'] as const;

/** The custom_id of the button labelled `label`; throws naming the labels there are. */
export function buttonId(message: EmulatorMessage, label: string): string {
  const labels = buttonLabels(message);
  const id = customIdsOf(message)[labels.indexOf(label)];
  if (!labels.includes(label) || id === undefined) {
    throw new Error(`no button ${label} on message ${message.id} (have ${labels.join(', ')})`);
  }
  return id;
}

/** The bytes of a message's first attachment. */
export function attachmentOf(message: EmulatorMessage): Buffer {
  const attachment = message.attachments[0];
  if (attachment === undefined) throw new Error(`message ${message.id} has no attachment`);
  return attachment.data;
}

/**
 * /settings in `world`, sent by a server admin: `settings('add', { words: 'castle' }, 'banned-words')`
 * resolves to the bot's private answer.
 */
export function adminSettings(world: BotWorld) {
  return async (
    subcommand: string,
    options: Record<string, CommandOptionValue> = {},
    subcommandGroup?: string,
  ): Promise<string> => {
    const interaction = await world.emulator.sendCommand({
      name: 'settings',
      subcommand,
      options,
      memberPermissions: [...ADMIN],
      ...(subcommandGroup === undefined ? {} : { subcommandGroup }),
    });
    return privateAnswer(world, interaction);
  };
}

/** Clicks the button labelled `label` under `message`, as `user` when given. */
export function clickLabel(
  world: BotWorld,
  message: EmulatorMessage,
  label: string,
  user?: string,
): Promise<EmulatorInteraction> {
  return world.emulator.clickButton({
    message,
    customId: buttonId(message, label),
    ...(user === undefined ? {} : { user }),
  });
}

/**
 * A bot world for one file whose bot downloads users' files from the emulator's CDN, with images
 * capped at `maxPixels` and one fast simulated worker.
 */
export function useCdnBotWorld(maxPixels: number): BotWorld {
  const world = useBotWorld({
    env: { SDBOT_MAX_PIXELS: String(maxPixels) },
    workers: [{ models: ['sim'], msPerStep: 5 }],
    bots: 0,
  });
  beforeAll(async () => {
    await world.startBot({}, { DISCORD_CDN_URL: world.emulator.baseUrl });
  });
  return world;
}
