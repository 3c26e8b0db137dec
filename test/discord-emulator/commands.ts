/**
 * Application commands: global and per-guild registrations (bulk overwrite, create, delete), with
 * the limits Discord enforces when a bot registers them.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  type APIApplicationCommand,
  type APIApplicationCommandOption,
  type InteractionContextType,
  type LocalizationMap,
} from 'discord.js';
import { DiscordHttpError } from './errors.js';
import type { SnowflakeGenerator } from './snowflake.js';
import { PayloadChecker, type JsonObject } from './validation.js';
import type { FormErrorPath } from './errors.js';

export const COMMAND_LIMITS = {
  commandsPerScope: 100,
  options: 25,
  choices: 25,
  stringMaxLength: 6000,
  totalCharacters: 8000,
} as const;

const NAME_PATTERN = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

const COMMAND_TYPES = [
  ApplicationCommandType.ChatInput,
  ApplicationCommandType.User,
  ApplicationCommandType.Message,
  ApplicationCommandType.PrimaryEntryPoint,
] as const;

const OPTION_TYPES = Object.values(ApplicationCommandOptionType).filter(
  (v): v is ApplicationCommandOptionType => typeof v === 'number',
);

/** null is the global scope; otherwise a guild id. */
export type CommandScope = string | null;

export class CommandStore {
  readonly #scopes = new Map<CommandScope, APIApplicationCommand[]>();

  constructor(
    private readonly applicationId: string,
    private readonly ids: SnowflakeGenerator,
    private readonly onChange: () => void,
  ) {}

  list(scope: CommandScope): APIApplicationCommand[] {
    return this.#scopes.get(scope) ?? [];
  }

  get(scope: CommandScope, id: string): APIApplicationCommand {
    const command = this.list(scope).find((c) => c.id === id);
    if (!command) throw DiscordHttpError.unknownCommand();
    return command;
  }

  /** PUT: replaces the scope's commands; a command keeps its id when its name and type stay. */
  overwrite(scope: CommandScope, body: unknown): APIApplicationCommand[] {
    const check = new PayloadChecker();
    const entries = check.array(body, [], { max: COMMAND_LIMITS.commandsPerScope, required: true }) ?? [];
    const seen = new Set<string>();
    const commands = entries.flatMap((entry, index) => {
      const definition = validateCommand(check, entry, [index]);
      if (!definition) return [];
      const key = `${definition.type}:${definition.name}`;
      if (seen.has(key)) {
        check.fail(
          [index, 'name'],
          'APPLICATION_COMMANDS_DUPLICATE_NAME',
          'Application command names must be unique',
        );
      }
      seen.add(key);
      return [definition];
    });
    check.errors.throwIfAny();
    const previous = this.list(scope);
    const stored = commands.map((definition) =>
      this.#store(
        scope,
        definition,
        previous.find((p) => p.type === definition.type && p.name === definition.name),
      ),
    );
    this.#scopes.set(scope, stored);
    this.onChange();
    return stored;
  }

  /** POST: creates a command, or replaces the one with the same name and type. */
  upsert(scope: CommandScope, body: unknown): { command: APIApplicationCommand; created: boolean } {
    const check = new PayloadChecker();
    const definition = validateCommand(check, body, []);
    check.errors.throwIfAny();
    if (!definition) throw DiscordHttpError.invalidJson();
    const commands = this.list(scope);
    const existing = commands.find((c) => c.type === definition.type && c.name === definition.name);
    if (!existing && commands.length >= COMMAND_LIMITS.commandsPerScope) {
      throw DiscordHttpError.fieldError(
        [],
        'BASE_TYPE_MAX_LENGTH',
        `Must be ${COMMAND_LIMITS.commandsPerScope} or fewer in length.`,
      );
    }
    const command = this.#store(scope, definition, existing);
    this.#scopes.set(scope, [...commands.filter((c) => c !== existing), command]);
    this.onChange();
    return { command, created: !existing };
  }

  delete(scope: CommandScope, id: string): void {
    const command = this.get(scope, id);
    this.#scopes.set(
      scope,
      this.list(scope).filter((c) => c !== command),
    );
    this.onChange();
  }

  /** The command a user in this guild invokes by name: a guild command wins over a global one. */
  resolve(
    name: string,
    type: ApplicationCommandType,
    guildId: string | null,
  ): APIApplicationCommand | undefined {
    const match = (c: APIApplicationCommand) => c.name === name && c.type === type;
    return (guildId === null ? undefined : this.list(guildId).find(match)) ?? this.list(null).find(match);
  }

  #store(scope: CommandScope, definition: CommandDefinition, previous: APIApplicationCommand | undefined) {
    const command: APIApplicationCommand = {
      id: previous?.id ?? this.ids.next(),
      application_id: this.applicationId,
      version: this.ids.next(),
      default_member_permissions: definition.default_member_permissions,
      type: definition.type,
      name: definition.name,
      name_localizations: definition.name_localizations,
      description: definition.description,
      description_localizations: definition.description_localizations,
      nsfw: definition.nsfw,
      integration_types: definition.integration_types,
      contexts: definition.contexts,
      ...(definition.options.length > 0 ? { options: definition.options } : {}),
      ...(scope === null ? {} : { guild_id: scope }),
    };
    return command;
  }
}

interface CommandDefinition {
  type: ApplicationCommandType;
  name: string;
  description: string;
  options: APIApplicationCommandOption[];
  default_member_permissions: string | null;
  name_localizations: LocalizationMap | null;
  description_localizations: LocalizationMap | null;
  nsfw: boolean;
  integration_types: ApplicationIntegrationType[];
  contexts: InteractionContextType[] | null;
}

function validateCommand(
  check: PayloadChecker,
  value: unknown,
  path: FormErrorPath,
): CommandDefinition | undefined {
  const body = check.record(value, path, true);
  if (!body) return undefined;
  const type = check.oneOf(body.type, [...path, 'type'], COMMAND_TYPES) ?? ApplicationCommandType.ChatInput;
  const chatInput = type === ApplicationCommandType.ChatInput;
  const name = check.string(body.name, [...path, 'name'], { min: 1, max: 32, required: true }) ?? '';
  if (chatInput && name && (!NAME_PATTERN.test(name) || name !== name.toLowerCase())) {
    check.fail([...path, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  }
  const description = chatInput
    ? (check.string(body.description, [...path, 'description'], { min: 1, max: 100, required: true }) ?? '')
    : '';
  if (!chatInput && typeof body.description === 'string' && body.description !== '') {
    check.fail(
      [...path, 'description'],
      'APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED',
      'Only chat input commands have a description',
    );
  }
  const options = chatInput ? validateOptions(check, body.options, [...path, 'options'], 0) : [];
  const permissions = body.default_member_permissions;
  if (
    permissions !== undefined &&
    permissions !== null &&
    (typeof permissions !== 'string' || !/^\d+$/.test(permissions))
  ) {
    check.fail(
      [...path, 'default_member_permissions'],
      'STRING_TYPE_CONVERT',
      `Could not interpret ${JSON.stringify(permissions)} as string.`,
    );
  }
  const characters = name.length + description.length + optionCharacters(options);
  if (characters > COMMAND_LIMITS.totalCharacters) {
    check.fail(
      path,
      'APPLICATION_COMMAND_TOO_LARGE',
      `Command exceeds maximum size (${COMMAND_LIMITS.totalCharacters})`,
    );
  }
  return {
    type,
    name,
    description,
    options,
    default_member_permissions: typeof permissions === 'string' ? permissions : null,
    name_localizations: localizations(body.name_localizations),
    description_localizations: localizations(body.description_localizations),
    nsfw: check.boolean(body.nsfw, [...path, 'nsfw']) ?? false,
    integration_types: Array.isArray(body.integration_types)
      ? body.integration_types.filter((t): t is ApplicationIntegrationType => t === 0 || t === 1)
      : [ApplicationIntegrationType.GuildInstall],
    contexts: Array.isArray(body.contexts)
      ? body.contexts.filter((c): c is 0 | 1 | 2 => c === 0 || c === 1 || c === 2)
      : null,
  };
}

function localizations(value: unknown): LocalizationMap | null {
  if (typeof value !== 'object' || value === null) return null;
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

function validateOptions(
  check: PayloadChecker,
  value: unknown,
  path: FormErrorPath,
  depth: number,
): APIApplicationCommandOption[] {
  const options = check.array(value, path, { max: COMMAND_LIMITS.options }) ?? [];
  const names = new Set<string>();
  let optionalSeen = false;
  return options.flatMap((entry, index): APIApplicationCommandOption[] => {
    const optionPath = [...path, index];
    const option = check.record(entry, optionPath, true);
    if (!option) return [];
    const type = check.oneOf(option.type, [...optionPath, 'type'], OPTION_TYPES, true);
    const name = check.string(option.name, [...optionPath, 'name'], { min: 1, max: 32, required: true });
    if (name !== undefined && (!NAME_PATTERN.test(name) || name !== name.toLowerCase())) {
      check.fail([...optionPath, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    if (name !== undefined && names.has(name)) {
      check.fail(
        [...optionPath, 'name'],
        'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS',
        'Option name already exists',
      );
    }
    if (name !== undefined) names.add(name);
    check.string(option.description, [...optionPath, 'description'], { min: 1, max: 100, required: true });
    const nested =
      type === ApplicationCommandOptionType.Subcommand ||
      type === ApplicationCommandOptionType.SubcommandGroup;
    if (nested) {
      if (depth >= 2 || (type === ApplicationCommandOptionType.SubcommandGroup && depth > 0)) {
        check.fail(
          [...optionPath, 'type'],
          'APPLICATION_COMMAND_SUBCOMMAND_INVALID_DEPTH',
          'Sub-command groups cannot be nested',
        );
      }
      validateOptions(check, option.options, [...optionPath, 'options'], depth + 1);
      return [entry as APIApplicationCommandOption];
    }
    const required = check.boolean(option.required, [...optionPath, 'required']) ?? false;
    if (required && optionalSeen) {
      check.fail(
        [...optionPath, 'required'],
        'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
        'Required options must be placed before non-required options',
      );
    }
    if (!required) optionalSeen = true;
    const choices = check.array(option.choices, [...optionPath, 'choices'], { max: COMMAND_LIMITS.choices });
    choices?.forEach((choice, choiceIndex) => {
      validateChoice(check, choice, [...optionPath, 'choices', choiceIndex]);
    });
    if (choices && choices.length > 0 && option.autocomplete === true) {
      check.fail(
        [...optionPath, 'autocomplete'],
        'APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_AND_CHOICES',
        'Autocomplete cannot be enabled on options that have choices',
      );
    }
    check.integer(option.min_length, [...optionPath, 'min_length'], {
      min: 0,
      max: COMMAND_LIMITS.stringMaxLength,
    });
    check.integer(option.max_length, [...optionPath, 'max_length'], {
      min: 1,
      max: COMMAND_LIMITS.stringMaxLength,
    });
    check.number(option.min_value, [...optionPath, 'min_value']);
    check.number(option.max_value, [...optionPath, 'max_value']);
    return [entry as APIApplicationCommandOption];
  });
}

function validateChoice(check: PayloadChecker, value: unknown, path: FormErrorPath): void {
  const choice: JsonObject | undefined = check.record(value, path, true);
  if (!choice) return;
  check.string(choice.name, [...path, 'name'], { min: 1, max: 100, required: true });
  if (typeof choice.value === 'string') check.string(choice.value, [...path, 'value'], { min: 1, max: 100 });
  else check.number(choice.value, [...path, 'value'], true);
}

function optionCharacters(options: readonly APIApplicationCommandOption[]): number {
  return options.reduce((sum, option) => {
    const choices = ('choices' in option ? option.choices : undefined) ?? [];
    const nested = optionCharacters(('options' in option ? option.options : undefined) ?? []);
    return (
      sum +
      option.name.length +
      option.description.length +
      nested +
      choices.reduce((total, choice) => total + choice.name.length + String(choice.value).length, 0)
    );
  }, 0);
}
