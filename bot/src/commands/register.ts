/**
 * Registers the slash and message commands with a bulk overwrite: what is sent replaces every command of the
 * application (globally, or in one guild, where changes show at once and which suits testing).
 */
import { ApplicationCommandType, DiscordAPIError, HTTPError, REST, Routes } from 'discord.js';
import { SdbotError } from '@sdbot/shared';
import { commandDefinitions } from './definitions.js';

export interface RegisterCommandsOptions {
  token: string;
  /** Discord REST base URL (DISCORD_API_URL), e.g. https://discord.com/api. */
  apiUrl: string;
  /** Read from the token (`GET /applications/@me`) when absent. */
  applicationId?: string;
  /** Register in this guild only; absent: globally. */
  guildId?: string;
}

export interface RegisteredCommands {
  applicationId: string;
  guildId: string | undefined;
  names: string[];
  /** As members see them: `/imagine` for slash commands, `"Show parameters"` for message commands. */
  labels: string[];
}

/** Turns a failed call into an error that says what to fix, without ever quoting the token. */
function explain(error: unknown, what: string, token: string, guildId: string | undefined): SdbotError {
  const scrub = (text: string) => text.split(token).join('[REDACTED]');
  if (error instanceof DiscordAPIError || error instanceof HTTPError) {
    if (error.status === 401) {
      return new SdbotError(
        'CONFIG_INVALID',
        'Discord refused DISCORD_TOKEN (401 Unauthorized): copy the bot token again from the Developer Portal (Bot page)',
        { cause: error },
      );
    }
    if (error.status === 403 && guildId !== undefined) {
      return new SdbotError(
        'DISCORD_API',
        `Discord refused access to guild ${guildId} (403): invite the bot there with the applications.commands scope`,
        { cause: error, retryable: false },
      );
    }
    return new SdbotError('DISCORD_API', scrub(`${what} failed (${error.status}): ${error.message}`), {
      cause: error,
      retryable: error.status >= 500,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new SdbotError('DISCORD_API', scrub(`${what} failed: ${reason}`), { cause: error });
}

export async function registerCommands(options: RegisterCommandsOptions): Promise<RegisteredCommands> {
  const { token, guildId } = options;
  const rest = new REST({ api: options.apiUrl }).setToken(token);
  let applicationId = options.applicationId;
  if (applicationId === undefined) {
    let application: unknown;
    try {
      application = await rest.get(Routes.currentApplication());
    } catch (error) {
      throw explain(error, 'reading the application id (GET /applications/@me)', token, guildId);
    }
    const id =
      typeof application === 'object' && application !== null && 'id' in application
        ? application.id
        : undefined;
    if (typeof id !== 'string') {
      throw new SdbotError('DISCORD_API', 'GET /applications/@me answered without an application id');
    }
    applicationId = id;
  }
  const route =
    guildId === undefined
      ? Routes.applicationCommands(applicationId)
      : Routes.applicationGuildCommands(applicationId, guildId);
  const body = commandDefinitions();
  try {
    await rest.put(route, { body });
  } catch (error) {
    throw explain(error, `registering commands (PUT ${route})`, token, guildId);
  }
  return {
    applicationId,
    guildId,
    names: body.map((command) => command.name),
    labels: body.map((command) =>
      command.type === ApplicationCommandType.Message ? `"${command.name}"` : `/${command.name}`,
    ),
  };
}
