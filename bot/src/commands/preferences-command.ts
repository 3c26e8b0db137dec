/**
 * `/preferences`: every member's own defaults for /imagine, in servers and DMs. The `set` options
 * match the preference fields; ranges come from the protocol's LIMITS.
 */
import { ApplicationIntegrationType, InteractionContextType, SlashCommandBuilder } from 'discord.js';
import { LIMITS } from '@sdbot/shared';
import { ASPECT_CHOICES } from '../prompt/size.js';
// Used only inside preferencesCommand(), so the import cycle with definitions.ts is harmless.
import { COMMAND_NAMES } from './definitions.js';
import { integerInRange, schedulerChoice } from './option-builders.js';

const sizeHint = `multiple of ${LIMITS.sizeMultiple}`;

/** Subcommands of /preferences and their option names (set's options match the preference fields). */
export const PREFERENCES_SUBCOMMANDS = {
  view: 'view',
  set: 'set',
  reset: 'reset',
  negative: 'negative',
  steps: 'steps',
  aspect: 'aspect',
  width: 'width',
  height: 'height',
  scheduler: 'scheduler',
  count: 'count',
  remix: 'remix',
  key: 'key',
} as const;

/** What `/preferences reset key:` offers; `all` forgets everything. */
export const PREFERENCE_KEYS = ['negative', 'steps', 'size', 'scheduler', 'count', 'remix', 'all'] as const;

export function preferencesCommand() {
  const p = PREFERENCES_SUBCOMMANDS;
  return new SlashCommandBuilder()
    .setName(COMMAND_NAMES.preferences)
    .setDescription('Your own defaults for /imagine, kept in every server')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
    .addSubcommand((sub) =>
      sub.setName(p.view).setDescription("Show your preferences and today's quota in this server"),
    )
    .addSubcommand((sub) =>
      sub
        .setName(p.set)
        .setDescription('Change your defaults (only the options you give)')
        .addStringOption((option) =>
          option
            .setName(p.negative)
            .setDescription('Default negative prompt')
            .setMaxLength(LIMITS.negativePromptMaxChars),
        )
        .addIntegerOption(integerInRange(p.steps, 'Default denoising steps', LIMITS.steps))
        .addStringOption((option) =>
          option
            .setName(p.aspect)
            .setDescription('Default aspect ratio (replaces a default size)')
            .addChoices(ASPECT_CHOICES.map((ratio) => ({ name: ratio, value: ratio }))),
        )
        .addIntegerOption(
          integerInRange(
            p.width,
            `Default width, a ${sizeHint} (replaces a default aspect ratio)`,
            LIMITS.size,
          ),
        )
        .addIntegerOption(
          integerInRange(
            p.height,
            `Default height, a ${sizeHint} (replaces a default aspect ratio)`,
            LIMITS.size,
          ),
        )
        .addStringOption(schedulerChoice(p.scheduler, 'Default sampler'))
        .addIntegerOption(integerInRange(p.count, 'Default number of pictures', LIMITS.count))
        .addBooleanOption((option) =>
          option.setName(p.remix).setDescription('Edit the prompt before Re-roll, V and Vary run'),
        ),
    )
    .addSubcommand((sub) =>
      sub
        .setName(p.reset)
        .setDescription('Forget one preference, or all of them')
        .addStringOption((option) =>
          option
            .setName(p.key)
            .setDescription('Which preference')
            .setRequired(true)
            .addChoices(PREFERENCE_KEYS.map((key) => ({ name: key, value: key }))),
        ),
    );
}
