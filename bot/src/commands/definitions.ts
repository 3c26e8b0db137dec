/**
 * The slash commands, as the JSON Discord's API v10 registers. Ranges come from the protocol's
 * LIMITS, so Discord's own client refuses most bad values before they reach the bot; the bot still
 * checks everything, because a stale registration or a hand-made request skips these limits.
 */
import {
  ApplicationIntegrationType,
  ChannelType,
  InteractionContextType,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type SlashCommandChannelOption,
  type SlashCommandSubcommandBuilder,
  type SlashCommandSubcommandGroupBuilder,
  type RESTPostAPIApplicationCommandsJSONBody,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { LIMITS } from '@sdbot/shared';
import { ASPECT_CHOICES } from '../prompt/size.js';
import { LIST_KEYS, SETTING_SPECS } from '../settings/keys.js';
import { contextMenuDefinitions } from './context-menu.js';
import { integerInRange, numberInRange, schedulerChoice } from './option-builders.js';
import { preferencesCommand } from './preferences-command.js';

export { PREFERENCE_KEYS, PREFERENCES_SUBCOMMANDS } from './preferences-command.js';

export const COMMAND_NAMES = {
  imagine: 'imagine',
  settings: 'settings',
  queue: 'queue',
  info: 'info',
  preferences: 'preferences',
} as const;

/** Option names of /imagine, matching the fields of ImagineOptions. */
export const IMAGINE_OPTIONS = {
  prompt: 'prompt',
  negative: 'negative',
  aspect: 'aspect',
  width: 'width',
  height: 'height',
  steps: 'steps',
  guidance: 'guidance',
  seed: 'seed',
  scheduler: 'scheduler',
  model: 'model',
  count: 'count',
  image: 'image',
  strength: 'strength',
} as const;

/** Subcommands and subcommand groups of /settings, and their option names. */
export const SETTINGS_SUBCOMMANDS = {
  view: 'view',
  set: 'set',
  reset: 'reset',
  bannedWords: { group: 'banned-words', add: 'add', remove: 'remove', list: 'list', words: 'words' },
  channels: { group: 'channels', allow: 'allow', disallow: 'disallow', list: 'list', channel: 'channel' },
  roles: { group: 'roles', allow: 'allow', disallow: 'disallow', list: 'list', role: 'role' },
  bannedUsers: { group: 'banned-users', add: 'add', remove: 'remove', list: 'list', user: 'user' },
  channelDefaults: {
    group: 'channel-defaults',
    set: 'set',
    clear: 'clear',
    list: 'list',
    channel: 'channel',
    model: 'model',
    negative: 'negative',
  },
  key: 'key',
  value: 'value',
} as const;

/** Channels /imagine can post in, offered by `/settings channels allow`. */
const POSTABLE_CHANNELS = [
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildVoice,
  ChannelType.GuildStageVoice,
  ChannelType.GuildForum,
  ChannelType.GuildMedia,
] as const;

const sizeHint = `multiple of ${LIMITS.sizeMultiple}`;

/** A required option naming a channel /imagine can post in. */
function requiredChannel(option: SlashCommandChannelOption, name: string): SlashCommandChannelOption {
  return option
    .setName(name)
    .setDescription('Channel')
    .setRequired(true)
    .addChannelTypes(...POSTABLE_CHANNELS);
}

function imagineCommand() {
  return new SlashCommandBuilder()
    .setName(COMMAND_NAMES.imagine)
    .setDescription('Draw pictures from a text prompt (flags such as --ar 16:9 --no text work too)')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
    .addStringOption((option) =>
      option
        .setName(IMAGINE_OPTIONS.prompt)
        .setDescription('What to draw, optionally followed by flags: --ar 16:9 --seed 42 --no blurry')
        .setRequired(true)
        .setMaxLength(LIMITS.promptMaxChars),
    )
    .addStringOption((option) =>
      option
        .setName(IMAGINE_OPTIONS.negative)
        .setDescription('What to keep out of the picture (same as --no)')
        .setMaxLength(LIMITS.negativePromptMaxChars),
    )
    .addStringOption((option) =>
      option
        .setName(IMAGINE_OPTIONS.aspect)
        .setDescription('Aspect ratio, width:height (same as --ar)')
        .addChoices(ASPECT_CHOICES.map((ratio) => ({ name: ratio, value: ratio }))),
    )
    .addIntegerOption(
      integerInRange(IMAGINE_OPTIONS.width, `Width in pixels, a ${sizeHint} (same as --w)`, LIMITS.size),
    )
    .addIntegerOption(
      integerInRange(IMAGINE_OPTIONS.height, `Height in pixels, a ${sizeHint} (same as --h)`, LIMITS.size),
    )
    .addIntegerOption(
      integerInRange(
        IMAGINE_OPTIONS.steps,
        'Denoising steps: more is slower and usually finer (same as --steps)',
        LIMITS.steps,
      ),
    )
    .addNumberOption(
      numberInRange(
        IMAGINE_OPTIONS.guidance,
        'How closely to follow the prompt, CFG scale (same as --cfg)',
        LIMITS.guidance,
      ),
    )
    .addIntegerOption(
      integerInRange(IMAGINE_OPTIONS.seed, 'Seed for a reproducible picture (same as --seed)', LIMITS.seed),
    )
    .addStringOption(schedulerChoice(IMAGINE_OPTIONS.scheduler, 'Sampler (same as --scheduler)'))
    .addStringOption((option) =>
      option
        .setName(IMAGINE_OPTIONS.model)
        .setDescription('Model to draw with (same as --model)')
        .setAutocomplete(true)
        .setMaxLength(64),
    )
    .addIntegerOption(
      integerInRange(
        IMAGINE_OPTIONS.count,
        `Pictures to draw, default ${LIMITS.count.max} (same as --count)`,
        LIMITS.count,
      ),
    )
    .addAttachmentOption((option) =>
      option
        .setName(IMAGINE_OPTIONS.image)
        .setDescription('Start from this image (PNG, JPEG, WebP or GIF, up to 10 MB)'),
    )
    .addNumberOption(
      numberInRange(
        IMAGINE_OPTIONS.strength,
        'How far to move from the image: 0 keeps it, 1 ignores it (default 0.6)',
        LIMITS.strength,
      ),
    );
}

/** A `/settings` list group: add and remove take the one required option, list takes none. */
interface ListGroupSpec {
  /** The group's name, then its add, remove and list subcommands' names. */
  names: readonly [string, string, string, string];
  /** Their descriptions, in the same order. */
  descriptions: readonly [string, string, string, string];
  /** Adds the option naming what to add or remove. */
  option: (sub: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder;
}

function listGroup(group: SlashCommandSubcommandGroupBuilder, spec: ListGroupSpec) {
  const [name, add, remove, list] = spec.names;
  const [description, addDescription, removeDescription, listDescription] = spec.descriptions;
  return group
    .setName(name)
    .setDescription(description)
    .addSubcommand((sub) => spec.option(sub.setName(add).setDescription(addDescription)))
    .addSubcommand((sub) => spec.option(sub.setName(remove).setDescription(removeDescription)))
    .addSubcommand((sub) => sub.setName(list).setDescription(listDescription));
}

/** The `/settings` list groups, in the order Discord shows them. */
function settingsListGroups(): ListGroupSpec[] {
  const s = SETTINGS_SUBCOMMANDS;
  return [
    {
      names: [s.bannedWords.group, s.bannedWords.add, s.bannedWords.remove, s.bannedWords.list],
      descriptions: [
        'Words that make /imagine refuse a prompt',
        'Ban words or phrases',
        'Allow words or phrases again',
        'Show the banned words',
      ],
      option: (sub) =>
        sub.addStringOption((option) =>
          option
            .setName(s.bannedWords.words)
            .setDescription('Comma-separated words or phrases')
            .setRequired(true)
            .setMaxLength(1000),
        ),
    },
    {
      names: [s.channels.group, s.channels.allow, s.channels.disallow, s.channels.list],
      descriptions: [
        'Channels where /imagine may be used (none listed: everywhere)',
        'Allow /imagine in a channel',
        'Stop allowing /imagine in a channel',
        'Show the channels where /imagine may be used',
      ],
      option: (sub) => sub.addChannelOption((option) => requiredChannel(option, s.channels.channel)),
    },
    {
      names: [s.roles.group, s.roles.allow, s.roles.disallow, s.roles.list],
      descriptions: [
        'Roles whose members may create images (none listed: everyone)',
        'Let members with a role create images',
        'Stop listing a role',
        'Show the roles that may create images',
      ],
      option: (sub) =>
        sub.addRoleOption((option) => option.setName(s.roles.role).setDescription('Role').setRequired(true)),
    },
    {
      names: [s.bannedUsers.group, s.bannedUsers.add, s.bannedUsers.remove, s.bannedUsers.list],
      descriptions: [
        'Members who may not create images',
        'Ban a member from creating images',
        'Let a member create images again',
        'Show the banned members',
      ],
      option: (sub) =>
        sub.addUserOption((option) =>
          option.setName(s.bannedUsers.user).setDescription('Member').setRequired(true),
        ),
    },
  ];
}

function settingsCommand() {
  const keyChoices = SETTING_SPECS.map((spec) => ({
    name: `${spec.key}: ${spec.description}`,
    value: spec.key,
  }));
  const s = SETTINGS_SUBCOMMANDS;
  const command = new SlashCommandBuilder()
    .setName(COMMAND_NAMES.settings)
    .setDescription("View or change this server's limits, defaults, banned words and channels")
    .setContexts(InteractionContextType.Guild)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .addSubcommand((sub) => sub.setName(s.view).setDescription("Show this server's settings"))
    .addSubcommand((sub) =>
      sub
        .setName(s.set)
        .setDescription('Change a setting')
        .addStringOption((option) =>
          option.setName(s.key).setDescription('Setting').setRequired(true).addChoices(keyChoices),
        )
        .addStringOption((option) =>
          option.setName(s.value).setDescription('New value').setRequired(true).setMaxLength(100),
        ),
    )
    .addSubcommand((sub) =>
      sub
        .setName(s.reset)
        .setDescription("Go back to the bot's default for a setting, or empty a list")
        .addStringOption((option) =>
          option
            .setName(s.key)
            .setDescription('Setting')
            .setRequired(true)
            // Names only: Discord counts every character of a command against 4000, and `set`
            // already describes each key.
            .addChoices([
              ...SETTING_SPECS.map((spec) => ({ name: spec.key, value: spec.key })),
              { name: `${LIST_KEYS.bannedWords}: remove every banned word`, value: LIST_KEYS.bannedWords },
              { name: `${LIST_KEYS.allowedChannels}: allow every channel`, value: LIST_KEYS.allowedChannels },
              {
                name: `${LIST_KEYS.allowedRoles}: let every member create images`,
                value: LIST_KEYS.allowedRoles,
              },
              { name: `${LIST_KEYS.bannedUsers}: unban every member`, value: LIST_KEYS.bannedUsers },
              {
                name: `${LIST_KEYS.channelDefaults}: remove every channel's defaults`,
                value: LIST_KEYS.channelDefaults,
              },
            ]),
        ),
    );
  for (const spec of settingsListGroups()) command.addSubcommandGroup((group) => listGroup(group, spec));
  return command.addSubcommandGroup((group) =>
    group
      .setName(s.channelDefaults.group)
      .setDescription("A channel's default model and negative prompt")
      .addSubcommand((sub) =>
        sub
          .setName(s.channelDefaults.set)
          .setDescription("Set a channel's default model and/or negative prompt")
          .addChannelOption((option) => requiredChannel(option, s.channelDefaults.channel))
          .addStringOption((option) =>
            option
              .setName(s.channelDefaults.model)
              .setDescription('Default model in this channel')
              .setAutocomplete(true)
              .setMaxLength(64),
          )
          .addStringOption((option) =>
            option
              .setName(s.channelDefaults.negative)
              .setDescription('Default negative prompt in this channel (empty removes it)')
              .setMaxLength(LIMITS.negativePromptMaxChars),
          ),
      )
      .addSubcommand((sub) =>
        sub
          .setName(s.channelDefaults.clear)
          .setDescription("Remove a channel's defaults")
          .addChannelOption((option) => requiredChannel(option, s.channelDefaults.channel)),
      )
      .addSubcommand((sub) =>
        sub.setName(s.channelDefaults.list).setDescription('Show every channel that has its own defaults'),
      ),
  );
}

function queueCommand() {
  return new SlashCommandBuilder()
    .setName(COMMAND_NAMES.queue)
    .setDescription('Show the jobs waiting or running, and where yours are')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall);
}

function infoCommand() {
  return new SlashCommandBuilder()
    .setName(COMMAND_NAMES.info)
    .setDescription('Show the models, workers, limits and flags of this bot')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall);
}

/** The slash commands. */
export function slashCommandDefinitions(): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return [imagineCommand(), settingsCommand(), queueCommand(), infoCommand(), preferencesCommand()].map(
    (command) => command.toJSON(),
  );
}

/** Every command, message context commands last, ready for a bulk overwrite (`PUT /applications/{id}/commands`). */
export function commandDefinitions(): RESTPostAPIApplicationCommandsJSONBody[] {
  return [...slashCommandDefinitions(), ...contextMenuDefinitions()];
}
