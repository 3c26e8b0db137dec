import { loadConfig, SdbotError, UsageError, stringOption, type CommandDefinition } from '@sdbot/shared';
import { registerCommands, type RegisterCommandsOptions } from '../commands/register.js';

export const registerCommandsCommand: CommandDefinition = {
  name: 'register-commands',
  summary: 'Register the slash commands with Discord, globally or in one guild',
  usage: '[--guild ID]',
  options: {
    guild: {
      type: 'string',
      valueName: 'ID',
      description: 'Register in this guild only: shows at once (global commands can take up to an hour)',
    },
  },
  details:
    'Needs DISCORD_TOKEN; the application id comes from DISCORD_APPLICATION_ID or from the token.\n' +
    'Registration replaces every command of the application in that scope.',
  async run({ options, env, stdout }) {
    const guildId = stringOption(options, 'guild');
    if (guildId !== undefined && !/^\d{17,20}$/.test(guildId)) {
      throw new UsageError(`--guild must be a Discord id (17-20 digits), got "${guildId}"`);
    }
    const config = loadConfig({ env });
    const token = config.discord.token;
    if (token === undefined) {
      throw new SdbotError(
        'CONFIG_INVALID',
        'DISCORD_TOKEN is not set: create a bot in the Discord Developer Portal and put its token there',
      );
    }
    const request: RegisterCommandsOptions = { token, apiUrl: config.discord.apiUrl };
    if (config.discord.applicationId !== undefined) request.applicationId = config.discord.applicationId;
    if (guildId !== undefined) request.guildId = guildId;
    const registered = await registerCommands(request);
    const where =
      registered.guildId === undefined
        ? 'globally (they can take up to an hour to appear everywhere)'
        : `in guild ${registered.guildId}`;
    stdout.write(
      `Registered ${registered.names.length} commands (${registered.labels.join(', ')}) ` +
        `for application ${registered.applicationId} ${where}.\n`,
    );
    return 0;
  },
};
