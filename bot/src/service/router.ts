/**
 * Sends each interaction to its handler and turns every failure into a private answer, so bad input
 * or a failing NATS or Discord call never crashes the bot and never leaves the user without a word.
 */
import { DiscordjsError, type Interaction } from 'discord.js';
import { LOG_EVENTS, RateLimitError, SdbotError, ValidationError, type Logger } from '@sdbot/shared';
import { CONTEXT_MENU_NAMES } from '../commands/context-menu.js';
import { COMMAND_NAMES } from '../commands/definitions.js';
import { RequestRefusedError, userMessage } from '../errors.js';
import { handleButton, refuseMalformedButton, runRemixable } from '../handlers/buttons.js';
import { isRemixModal, remixActionOf } from '../handlers/remix.js';
import { handleImagine, handleImagineAutocomplete } from '../handlers/imagine.js';
import {
  handleShowParameters,
  handleVaryImage,
  handleVarySubmit,
  isVaryModal,
} from '../handlers/message-image.js';
import { handleInfo, handleQueue } from '../handlers/queue-info.js';
import { answerPrivately, wasAnsweredElsewhere } from '../handlers/respond.js';
import { handlePreferences } from '../handlers/preferences.js';
import { handleSettings } from '../handlers/settings.js';
import { parseCustomId } from '../render/custom-id.js';
import type { BotContext } from './context.js';
import type { InteractionOutcome } from './metrics.js';

/** discord.js's complaint about options the command should not have arrived with. */
function isMalformedOptions(error: unknown): error is DiscordjsError {
  return error instanceof DiscordjsError && error.code.startsWith('CommandInteractionOption');
}

function describeFailure(error: unknown): string {
  if (isMalformedOptions(error)) {
    return `This command arrived with missing or malformed options (${error.message}). Try typing it again.`;
  }
  return userMessage(error);
}

function outcomeOf(error: unknown): InteractionOutcome {
  if (error instanceof RateLimitError) return 'rate_limited';
  if (error instanceof ValidationError || error instanceof RequestRefusedError || isMalformedOptions(error)) {
    return 'refused';
  }
  return 'error';
}

function nameOf(interaction: Interaction): string {
  if (interaction.isChatInputCommand() || interaction.isMessageContextMenuCommand()) {
    return interaction.commandName;
  }
  if (interaction.isModalSubmit()) {
    if (isVaryModal(interaction)) return 'modal:vary-image';
    return isRemixModal(interaction) ? 'modal:remix' : 'modal:unknown';
  }
  if (interaction.isAutocomplete()) return `${interaction.commandName}:autocomplete`;
  if (interaction.isButton()) {
    const parsed = parseCustomId(interaction.customId);
    return parsed.ok ? `button:${parsed.action.type}` : 'button:unknown';
  }
  return 'other';
}

async function route(ctx: BotContext, interaction: Interaction): Promise<void> {
  if (interaction.isChatInputCommand()) {
    switch (interaction.commandName) {
      case COMMAND_NAMES.imagine:
        return handleImagine(ctx, interaction);
      case COMMAND_NAMES.settings:
        return handleSettings(ctx, interaction);
      case COMMAND_NAMES.queue:
        return handleQueue(ctx, interaction);
      case COMMAND_NAMES.info:
        return handleInfo(ctx, interaction);
      case COMMAND_NAMES.preferences:
        return handlePreferences(ctx, interaction);
      default:
        throw new ValidationError([
          { field: `/${interaction.commandName}`, message: 'is not a command of this bot' },
        ]);
    }
  }
  if (interaction.isMessageContextMenuCommand()) {
    switch (interaction.commandName) {
      case CONTEXT_MENU_NAMES.showParameters:
        return handleShowParameters(ctx, interaction);
      case CONTEXT_MENU_NAMES.varyImage:
        return handleVaryImage(ctx, interaction);
      default:
        throw new ValidationError([
          { field: interaction.commandName, message: 'is not a command of this bot' },
        ]);
    }
  }
  if (interaction.isModalSubmit()) {
    if (isVaryModal(interaction)) return handleVarySubmit(ctx, interaction);
    if (isRemixModal(interaction)) return runRemixable(ctx, interaction, remixActionOf(interaction));
    throw new ValidationError([{ field: 'modal', message: 'is not a form of this bot' }]);
  }
  if (interaction.isAutocomplete()) {
    if (interaction.commandName === COMMAND_NAMES.imagine) return handleImagineAutocomplete(ctx, interaction);
    return interaction.respond([]);
  }
  if (interaction.isButton()) {
    const parsed = parseCustomId(interaction.customId);
    if (parsed.ok) return handleButton(ctx, interaction, parsed.action);
    // Another application's component cannot reach this bot; a foreign id means a hand-made request.
    return refuseMalformedButton(interaction, parsed.reason);
  }
}

async function answerFailure(interaction: Interaction, error: unknown, log: Logger): Promise<void> {
  try {
    if (interaction.isAutocomplete()) {
      if (!interaction.responded) await interaction.respond([]);
      return;
    }
    if (interaction.isRepliable()) await answerPrivately(interaction, describeFailure(error));
  } catch (answerError) {
    log.warn({ err: answerError }, LOG_EVENTS.reply.failed);
  }
}

/** The InteractionCreate listener of a bot instance; it never rejects. */
export function interactionHandler(ctx: BotContext): (interaction: Interaction) => Promise<void> {
  return async (interaction) => {
    const name = nameOf(interaction);
    const log = ctx.logger.child({ guildId: interaction.guildId, interactionId: interaction.id, name });
    try {
      await route(ctx, interaction);
      const elsewhere = interaction.isRepliable() && wasAnsweredElsewhere(interaction);
      ctx.metrics.interactions.inc({ name, outcome: elsewhere ? 'elsewhere' : 'ok' });
    } catch (error) {
      const outcome = outcomeOf(error);
      ctx.metrics.interactions.inc({ name, outcome });
      if (outcome === 'error') {
        const expected = error instanceof SdbotError && error.retryable;
        log[expected ? 'warn' : 'error']({ err: error }, LOG_EVENTS.interaction.failed);
      } else {
        log.info(
          { reason: error instanceof Error ? error.message : String(error) },
          LOG_EVENTS.interaction.refused,
        );
      }
      await answerFailure(interaction, error, log);
    }
  };
}
