/**
 * Turns the option values a test gives (`{ prompt: 'a fox', steps: 20 }`) into interaction data
 * typed by the registered command, refusing what Discord's client would not let a user send.
 */
import {
  ApplicationCommandOptionType,
  InteractionContextType,
  type APIApplicationCommand,
  type APIApplicationCommandInteractionDataBasicOption,
  type APIApplicationCommandInteractionDataOption,
  type APIApplicationCommandOption,
  type APIInteractionDataResolved,
} from 'discord.js';
import { EmulatorUsageError } from './errors.js';
import { apiAttachment, type MessageStore } from './messages.js';
import { characters } from './validation.js';
import { apiMember, apiRole, apiUser, hasPermissions } from './world.js';
import type { EmulatorChannel, EmulatorGuild, EmulatorUser, World } from './world.js';

/** A file a user attaches to an attachment option. */
export interface EmulatorUpload {
  filename: string;
  data: Buffer;
  contentType?: string;
}

export type CommandOptionValue = string | number | boolean | EmulatorUpload;

export interface CommandInvocation {
  subcommandGroup?: string;
  subcommand?: string;
  /** Option values by name; types come from the registered command. */
  options?: Readonly<Record<string, CommandOptionValue>>;
}

/** Where an interaction happens. */
export interface Place {
  guild: EmulatorGuild | undefined;
  channel: EmulatorChannel;
  user: EmulatorUser;
}

export interface CommandOptionContext {
  world: World;
  messages: MessageStore;
  /** The invoking member's permissions (channel options report them). */
  memberPermissions: (place: Place) => bigint;
}

export class CommandOptionResolver {
  constructor(private readonly context: CommandOptionContext) {}

  /** The `options` of the interaction data; fills `resolved` for users, roles, channels and files. */
  options(
    command: APIApplicationCommand,
    input: CommandInvocation,
    resolved: APIInteractionDataResolved,
    place: Place,
    focused: string | undefined,
  ): APIApplicationCommandInteractionDataOption[] {
    const definitions = command.options ?? [];
    const label = `/${command.name}`;
    const { Subcommand, SubcommandGroup } = ApplicationCommandOptionType;
    const findNested = (
      list: readonly APIApplicationCommandOption[],
      name: string | undefined,
      optionType: typeof Subcommand | typeof SubcommandGroup,
    ) => {
      const what = optionType === Subcommand ? 'subcommand' : 'subcommand group';
      const candidates = list.filter((o) => o.type === optionType);
      if (candidates.length === 0) {
        if (name !== undefined)
          throw new EmulatorUsageError(`${label} has no ${what}s, but ${what} "${name}" was given`);
        return undefined;
      }
      // Subcommands may sit next to groups (`/settings view` beside `/settings channels list`).
      const besideGroups = optionType === SubcommandGroup && list.some((o) => o.type === Subcommand);
      if (name === undefined && besideGroups) return undefined;
      const found = candidates.find((o) => o.name === name);
      if (!found) {
        throw new EmulatorUsageError(
          `${label} needs a ${what}: one of ${candidates.map((o) => o.name).join(', ')} (got ${name ?? 'none'})`,
        );
      }
      return found;
    };
    const group = findNested(definitions, input.subcommandGroup, SubcommandGroup);
    const groupOptions = group && 'options' in group ? (group.options ?? []) : definitions;
    const subcommand = findNested(groupOptions, input.subcommand, Subcommand);
    const leafDefinitions = subcommand && 'options' in subcommand ? (subcommand.options ?? []) : groupOptions;
    const basic = this.#basicOptions(label, leafDefinitions, input.options ?? {}, resolved, place, focused);
    if (!subcommand) return basic;
    const sub = {
      type: ApplicationCommandOptionType.Subcommand as const,
      name: subcommand.name,
      ...(basic.length > 0 ? { options: basic } : {}),
    };
    if (!group) return [sub];
    return [{ type: ApplicationCommandOptionType.SubcommandGroup, name: group.name, options: [sub] }];
  }

  #basicOptions(
    label: string,
    definitions: readonly APIApplicationCommandOption[],
    values: Readonly<Record<string, CommandOptionValue>>,
    resolved: APIInteractionDataResolved,
    place: Place,
    focused: string | undefined,
  ): APIApplicationCommandInteractionDataBasicOption[] {
    const known = definitions.map((d) => d.name);
    for (const name of Object.keys(values)) {
      if (!known.includes(name)) {
        throw new EmulatorUsageError(
          `${label} has no option "${name}" (options: ${known.join(', ') || 'none'})`,
        );
      }
    }
    if (focused !== undefined && !(focused in values)) {
      throw new EmulatorUsageError(`${label}: the focused option "${focused}" needs a (partial) value`);
    }
    return definitions.flatMap((definition): APIApplicationCommandInteractionDataBasicOption[] => {
      const value = values[definition.name];
      if (value === undefined) {
        if ('required' in definition && definition.required && focused === undefined) {
          throw new EmulatorUsageError(`${label}: option "${definition.name}" is required`);
        }
        return [];
      }
      if (definition.name === focused) {
        if (typeof value !== 'string' && typeof value !== 'number') {
          throw new EmulatorUsageError(
            `${label}: the focused option "${focused}" takes the text being typed`,
          );
        }
        return [
          {
            type: ApplicationCommandOptionType.String,
            name: definition.name,
            value: String(value),
            focused: true,
          },
        ];
      }
      return [this.#optionValue(`${label} ${definition.name}`, definition, value, resolved, place)];
    });
  }

  #optionValue(
    label: string,
    definition: APIApplicationCommandOption,
    value: CommandOptionValue,
    resolved: APIInteractionDataResolved,
    place: Place,
  ): APIApplicationCommandInteractionDataBasicOption {
    const { world, messages } = this.context;
    const name = definition.name;
    const wrongType = (expected: string) =>
      new EmulatorUsageError(
        `${label}: expected ${expected}, got ${typeof value === 'object' ? 'an upload' : JSON.stringify(value)}`,
      );
    switch (definition.type) {
      case ApplicationCommandOptionType.String: {
        if (typeof value !== 'string') throw wrongType('a string');
        checkChoice(label, definition, value);
        const length = characters(value);
        if (
          (definition.min_length !== undefined && length < definition.min_length) ||
          (definition.max_length !== undefined && length > definition.max_length)
        ) {
          throw new EmulatorUsageError(
            `${label}: length ${length} is outside ${definition.min_length ?? 0}..${definition.max_length ?? 6000}`,
          );
        }
        return { type: definition.type, name, value };
      }
      case ApplicationCommandOptionType.Integer:
      case ApplicationCommandOptionType.Number: {
        const integer = definition.type === ApplicationCommandOptionType.Integer;
        if (typeof value !== 'number' || (integer && !Number.isInteger(value)))
          throw wrongType(integer ? 'an integer' : 'a number');
        checkChoice(label, definition, value);
        if (
          (definition.min_value !== undefined && value < definition.min_value) ||
          (definition.max_value !== undefined && value > definition.max_value)
        ) {
          throw new EmulatorUsageError(
            `${label}: ${value} is outside ${definition.min_value ?? '-inf'}..${definition.max_value ?? 'inf'}`,
          );
        }
        return { type: definition.type, name, value };
      }
      case ApplicationCommandOptionType.Boolean:
        if (typeof value !== 'boolean') throw wrongType('a boolean');
        return { type: definition.type, name, value };
      case ApplicationCommandOptionType.User: {
        if (typeof value !== 'string') throw wrongType('a user id or username');
        const user = world.user(value);
        this.#resolveUser(resolved, user, place.guild);
        return { type: definition.type, name, value: user.id };
      }
      case ApplicationCommandOptionType.Channel: {
        if (typeof value !== 'string') throw wrongType('a channel id');
        const channel = world.channel(value);
        resolved.channels = {
          ...resolved.channels,
          [channel.id]: {
            id: channel.id,
            name: channel.name,
            type: channel.type,
            permissions: this.context.memberPermissions(place).toString(),
          },
        };
        return { type: definition.type, name, value: channel.id };
      }
      case ApplicationCommandOptionType.Role: {
        if (typeof value !== 'string' || !place.guild) throw wrongType('a role id or name in a guild');
        const role = place.guild.roles.find((r) => r.id === value || r.name === value);
        if (!role) throw new EmulatorUsageError(`${label}: unknown role "${value}"`);
        resolved.roles = { ...resolved.roles, [role.id]: apiRole(role) };
        return { type: definition.type, name, value: role.id };
      }
      case ApplicationCommandOptionType.Mentionable: {
        if (typeof value !== 'string') throw wrongType('a user or role');
        const role = place.guild?.roles.find((r) => r.id === value || r.name === value);
        if (role) {
          resolved.roles = { ...resolved.roles, [role.id]: apiRole(role) };
          return { type: definition.type, name, value: role.id };
        }
        const user = world.user(value);
        this.#resolveUser(resolved, user, place.guild);
        return { type: definition.type, name, value: user.id };
      }
      case ApplicationCommandOptionType.Attachment: {
        if (typeof value !== 'object') throw wrongType('an upload { filename, data, contentType? }');
        const attachment = messages.userUpload(place.channel.id, value);
        resolved.attachments = { ...resolved.attachments, [attachment.id]: apiAttachment(attachment) };
        return { type: definition.type, name, value: attachment.id };
      }
      default:
        throw new EmulatorUsageError(`${label}: options of type ${definition.type} cannot carry a value`);
    }
  }

  #resolveUser(
    resolved: APIInteractionDataResolved,
    user: EmulatorUser,
    guild: EmulatorGuild | undefined,
  ): void {
    resolved.users = { ...resolved.users, [user.id]: apiUser(user) };
    const member = guild?.members.get(user.id);
    if (guild && member) {
      const { user: _user, ...rest } = apiMember(this.context.world, member);
      resolved.members = {
        ...resolved.members,
        [user.id]: { ...rest, permissions: this.context.world.memberPermissions(guild, user.id).toString() },
      };
    }
  }
}

function checkChoice(label: string, definition: APIApplicationCommandOption, value: string | number): void {
  const choices = 'choices' in definition ? definition.choices : undefined;
  if (!choices || choices.length === 0) return;
  if (!choices.some((choice) => choice.value === value)) {
    throw new EmulatorUsageError(
      `${label}: ${JSON.stringify(value)} is not one of the choices ${choices.map((c) => JSON.stringify(c.value)).join(', ')}`,
    );
  }
}

/** Discord's client hides commands a member may not use, and guild-only commands in DMs. */
export function checkCommandVisible(
  command: APIApplicationCommand,
  place: Place,
  memberPermissions: bigint,
): void {
  const context = place.guild ? InteractionContextType.Guild : InteractionContextType.BotDM;
  if (command.contexts && !command.contexts.includes(context)) {
    throw new EmulatorUsageError(
      `/${command.name} is not available in ${place.guild ? 'guilds' : 'DMs'} (contexts ${command.contexts.join(', ')})`,
    );
  }
  if (place.guild && command.default_member_permissions !== null) {
    const required = BigInt(command.default_member_permissions);
    if (!hasPermissions(memberPermissions, required)) {
      throw new EmulatorUsageError(
        `${place.user.username} lacks the permissions /${command.name} requires (default_member_permissions ${command.default_member_permissions})`,
      );
    }
  }
}
