/**
 * The message context commands (right click on a message, Apps): "Show parameters" and "Vary this
 * image". Kept apart from the slash commands; both are registered together.
 */
import {
  ApplicationCommandType,
  ApplicationIntegrationType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  type RESTPostAPIContextMenuApplicationCommandsJSONBody,
} from 'discord.js';

export const CONTEXT_MENU_NAMES = {
  showParameters: 'Show parameters',
  varyImage: 'Vary this image',
} as const;

function messageCommand(name: string): ContextMenuCommandBuilder {
  return new ContextMenuCommandBuilder()
    .setName(name)
    .setType(ApplicationCommandType.Message)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall);
}

export function contextMenuDefinitions(): RESTPostAPIContextMenuApplicationCommandsJSONBody[] {
  return [
    messageCommand(CONTEXT_MENU_NAMES.showParameters),
    messageCommand(CONTEXT_MENU_NAMES.varyImage),
  ].map((command) => command.toJSON());
}
