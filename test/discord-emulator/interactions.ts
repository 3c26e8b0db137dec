/**
 * Interactions: building the INTERACTION_CREATE payloads a user's action produces (slash command,
 * autocomplete, button or select, modal submit), and Discord's rules for answering them: one
 * callback within 3 s, then webhook edits and follow-ups with a token that lives 15 minutes.
 */
import {
  ApplicationCommandType,
  ApplicationIntegrationType,
  ComponentType,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  type Locale,
  MessageFlags,
  MessageType,
  type APIInteraction,
  type APIInteractionDataResolved,
  type APIInteractionGuildMember,
  type APIMessageInteractionMetadata,
  type APIUser,
} from 'discord.js';
import { randomBytes } from 'node:crypto';
import type { EmulatorClock } from './clock.js';
import {
  checkCommandVisible,
  CommandOptionResolver,
  type CommandInvocation,
  type Place,
} from './command-options.js';
import type { CommandStore } from './commands.js';
import { DiscordHttpError, EmulatorUsageError } from './errors.js';
import { modalSubmission, validateAutocompleteChoices, validateModal } from './modals.js';
import { replyTo, requireComponent } from './messages.js';
import type { EmulatorMessage, MessageStore, StoredMessage } from './messages.js';
import type { SnowflakeGenerator } from './snowflake.js';
import {
  PayloadChecker,
  requireNonEmpty,
  validateMessagePayload,
  type JsonObject,
  type UploadedFile,
} from './validation.js';
import {
  apiDmChannel,
  apiGuildChannel,
  apiMember,
  apiUser,
  resolvePermissions,
  type EmulatorChannel,
  type EmulatorGuild,
  type EmulatorUser,
  type PermissionInput,
  type World,
} from './world.js';

export interface InteractionContextInput {
  /** User id or username (default: the first user). */
  user?: string;
  /** Replaces the member's computed permissions (`member.permissions`). */
  memberPermissions?: PermissionInput;
  /** Replaces the bot's permissions in the channel (`app_permissions`). */
  appPermissions?: PermissionInput;
  /** The user's client locale (default: the user's). */
  locale?: Locale;
}

export interface SendCommandInput extends InteractionContextInput, CommandInvocation {
  name: string;
  /** Default: the first guild. `null` invokes the command in the user's DM with the bot. */
  guildId?: string | null;
  /** Default: the guild's first channel. */
  channelId?: string;
}

export interface SendMessageCommandInput extends InteractionContextInput {
  /** A message command's name, as registered ("Show parameters"). */
  name: string;
  /** The message the user right-clicked (any message in a channel, a user's or the bot's), or its id. */
  message: EmulatorMessage | string;
}

export interface SendAutocompleteInput extends SendCommandInput {
  /** The option the user is typing in; its value may be partial. */
  focused: string;
}

export interface UseComponentInput extends InteractionContextInput {
  /** A message the bot posted, or its id. */
  message: EmulatorMessage | string;
  customId: string;
}

export interface ChooseFromSelectInput extends UseComponentInput {
  values: readonly string[];
}

export interface SubmitModalInput extends InteractionContextInput {
  /** The interaction that was answered with the modal. */
  interaction: EmulatorInteraction;
  /** Text input values by custom_id. */
  fields: Readonly<Record<string, string>>;
}

export interface InteractionResponse {
  readonly type: InteractionResponseType;
  /** The callback's `data` as sent. */
  readonly data: JsonObject | undefined;
  readonly at: number;
  /** Time from dispatch to the callback, by the emulator's clock. */
  readonly latencyMs: number;
}

export interface InteractionRecord {
  readonly id: string;
  readonly token: string;
  readonly type: InteractionType;
  readonly payload: APIInteraction;
  readonly dispatchedAt: number;
  readonly guildId: string | null;
  readonly channelId: string;
  readonly userId: string;
  /** For components and modals opened from one: the message the component is on. */
  readonly componentMessageId: string | undefined;
  readonly metadata: APIMessageInteractionMetadata | undefined;
  readonly isChatInputCommand: boolean;
  response: InteractionResponse | undefined;
  /** Callbacks refused as late (10062) or repeated (40060). */
  rejectedCallbacks: number;
  originalMessageId: string | undefined;
  readonly followUpIds: string[];
  tokenRevoked: boolean;
  modal: JsonObject | undefined;
  autocompleteChoices: JsonObject[] | undefined;
}

export interface InteractionHost {
  readonly messages: MessageStore;
  waitUntil<T>(
    probe: () => T | undefined,
    timeoutMs: number,
    description: string | (() => string),
  ): Promise<T>;
}

/** A handle on one dispatched interaction: what the bot answered, and its messages. */
export class EmulatorInteraction {
  constructor(
    readonly record: InteractionRecord,
    private readonly host: InteractionHost,
  ) {}

  get id(): string {
    return this.record.id;
  }

  get token(): string {
    return this.record.token;
  }

  get type(): InteractionType {
    return this.record.type;
  }

  /** The INTERACTION_CREATE data as dispatched. */
  get payload(): APIInteraction {
    return this.record.payload;
  }

  get response(): InteractionResponse | undefined {
    return this.record.response;
  }

  /** Callbacks refused because the interaction was already answered (40060) or too late (10062). */
  get rejectedCallbacks(): number {
    return this.record.rejectedCallbacks;
  }

  /** The modal the bot opened (callback type 9). */
  get modal(): JsonObject | undefined {
    return this.record.modal;
  }

  /** The choices the bot suggested (callback type 8). */
  get autocompleteChoices(): readonly JsonObject[] | undefined {
    return this.record.autocompleteChoices;
  }

  /** The original response (for component interactions answered by update: the component's message). */
  originalMessage(): EmulatorMessage | undefined {
    const id = this.record.originalMessageId;
    return id === undefined ? undefined : this.host.messages.find(id);
  }

  followUps(): EmulatorMessage[] {
    return this.record.followUpIds.flatMap((id) => this.host.messages.find(id) ?? []);
  }

  waitForResponse(timeoutMs = 5000): Promise<InteractionResponse> {
    return this.host.waitUntil(() => this.record.response, timeoutMs, `a response to interaction ${this.id}`);
  }

  /** Resolves once the original response exists and satisfies the predicate (e.g. has a file). */
  waitForOriginal(predicate: (message: EmulatorMessage) => boolean = () => true, timeoutMs = 5000) {
    return this.host.waitUntil(
      () => {
        const message = this.originalMessage();
        return message && predicate(message) ? message : undefined;
      },
      timeoutMs,
      `the original response of interaction ${this.id} to match`,
    );
  }

  waitForFollowUp(predicate: (message: EmulatorMessage) => boolean = () => true, timeoutMs = 5000) {
    return this.host.waitUntil(
      () => this.followUps().find(predicate),
      timeoutMs,
      `a follow-up of interaction ${this.id} to match`,
    );
  }
}

export interface InteractionServiceOptions {
  world: World;
  commands: CommandStore;
  messages: MessageStore;
  ids: SnowflakeGenerator;
  clock: EmulatorClock;
  applicationId: string;
  attachmentSizeLimit: number;
  ackTimeoutMs: number;
  tokenLifetimeMs: number;
  onChange: () => void;
}

const ALLOWED_CALLBACKS: Record<InteractionType, readonly InteractionResponseType[]> = {
  [InteractionType.Ping]: [InteractionResponseType.Pong],
  [InteractionType.ApplicationCommand]: [
    InteractionResponseType.ChannelMessageWithSource,
    InteractionResponseType.DeferredChannelMessageWithSource,
    InteractionResponseType.Modal,
  ],
  [InteractionType.MessageComponent]: [
    InteractionResponseType.ChannelMessageWithSource,
    InteractionResponseType.DeferredChannelMessageWithSource,
    InteractionResponseType.DeferredMessageUpdate,
    InteractionResponseType.UpdateMessage,
    InteractionResponseType.Modal,
  ],
  [InteractionType.ApplicationCommandAutocomplete]: [
    InteractionResponseType.ApplicationCommandAutocompleteResult,
  ],
  [InteractionType.ModalSubmit]: [
    InteractionResponseType.ChannelMessageWithSource,
    InteractionResponseType.DeferredChannelMessageWithSource,
    InteractionResponseType.DeferredMessageUpdate,
    InteractionResponseType.UpdateMessage,
  ],
};

export interface CallbackResult {
  status: 200 | 204;
  body?: unknown;
}

export class InteractionService {
  readonly #byId = new Map<string, InteractionRecord>();
  readonly #byToken = new Map<string, InteractionRecord>();
  readonly #options: CommandOptionResolver;

  constructor(private readonly options: InteractionServiceOptions) {
    this.#options = new CommandOptionResolver({
      world: options.world,
      messages: options.messages,
      memberPermissions: (place) => this.#memberPermissions(place, {}),
    });
  }

  get all(): InteractionRecord[] {
    return [...this.#byId.values()];
  }

  revokeToken(token: string): void {
    const record = this.#byToken.get(token);
    if (!record) throw new EmulatorUsageError('no interaction has this token');
    record.tokenRevoked = true;
  }

  command(input: SendCommandInput, focused?: string): InteractionRecord {
    const { commands } = this.options;
    const place = this.#place(input.guildId, input.channelId, input.user);
    const command = commands.resolve(input.name, ApplicationCommandType.ChatInput, place.guild?.id ?? null);
    if (!command) {
      throw new EmulatorUsageError(
        `/${input.name} is not registered ${place.guild ? `globally or in guild ${place.guild.id}` : 'globally'}: register it first (PUT /applications/:app/commands)`,
      );
    }
    const memberPermissions = this.#memberPermissions(place, input);
    checkCommandVisible(command, place, memberPermissions);
    const resolved: APIInteractionDataResolved = {};
    const options = this.#options.options(command, input, resolved, place, focused);
    const type =
      focused === undefined
        ? InteractionType.ApplicationCommand
        : InteractionType.ApplicationCommandAutocomplete;
    const data = {
      id: command.id,
      name: command.name,
      type: ApplicationCommandType.ChatInput,
      ...(options.length > 0 ? { options } : {}),
      ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
      ...(command.guild_id === undefined ? {} : { guild_id: command.guild_id }),
    };
    return this.#register(type, place, memberPermissions, input, data, undefined, {
      metadata: (base) => ({ ...base, type: InteractionType.ApplicationCommand }),
      isChatInputCommand: true,
    });
  }

  /** A message context command (Apps menu of a message): type 2 with data.type 3 and target_id. */
  messageCommand(input: SendMessageCommandInput): InteractionRecord {
    const message = this.#componentMessage(input.message);
    if (message.ephemeral) {
      throw new EmulatorUsageError(`message ${message.id} is ephemeral: Discord offers no apps on it`);
    }
    const place = this.#place(message.guildId, message.channelId, input.user);
    const guildId = place.guild?.id ?? null;
    const command = this.options.commands.resolve(input.name, ApplicationCommandType.Message, guildId);
    if (!command) {
      throw new EmulatorUsageError(
        `message command "${input.name}" is not registered ${guildId === null ? 'globally' : `globally or in guild ${guildId}`}`,
      );
    }
    const memberPermissions = this.#memberPermissions(place, input);
    checkCommandVisible(command, place, memberPermissions);
    const data = {
      id: command.id,
      name: command.name,
      type: ApplicationCommandType.Message,
      target_id: message.id,
      resolved: { messages: { [message.id]: this.options.messages.render(message) } },
      ...(command.guild_id === undefined ? {} : { guild_id: command.guild_id }),
    };
    return this.#register(
      InteractionType.ApplicationCommand,
      place,
      memberPermissions,
      input,
      data,
      undefined,
      {
        metadata: (base) => ({
          ...base,
          type: InteractionType.ApplicationCommand,
          target_message_id: message.id,
        }),
        isChatInputCommand: false,
      },
    );
  }

  component(input: UseComponentInput, values: readonly string[] | undefined): InteractionRecord {
    const message = this.#componentMessage(input.message);
    const { type: componentType } = requireComponent(message, input.customId);
    const isSelect = componentType !== ComponentType.Button;
    if (isSelect && values === undefined) {
      throw new EmulatorUsageError(`component "${input.customId}" is a select menu: use chooseFromSelect`);
    }
    if (!isSelect && values !== undefined) {
      throw new EmulatorUsageError(`component "${input.customId}" is a button: use clickButton`);
    }
    const place = this.#place(message.guildId, message.channelId, input.user);
    const memberPermissions = this.#memberPermissions(place, input);
    const data = {
      custom_id: input.customId,
      component_type: componentType,
      ...(values === undefined ? {} : { values: [...values] }),
    };
    return this.#register(InteractionType.MessageComponent, place, memberPermissions, input, data, message, {
      metadata: (base) => ({
        ...base,
        type: InteractionType.MessageComponent,
        interacted_message_id: message.id,
      }),
      isChatInputCommand: false,
    });
  }

  modalSubmit(input: SubmitModalInput): InteractionRecord {
    const opener = input.interaction.record;
    const modal = opener.modal;
    if (!modal) throw new EmulatorUsageError(`interaction ${opener.id} was not answered with a modal`);
    const components = modalSubmission(modal, input.fields);
    const place = this.#place(opener.guildId, opener.channelId, input.user ?? opener.userId);
    const memberPermissions = this.#memberPermissions(place, input);
    const message =
      opener.componentMessageId === undefined
        ? undefined
        : this.options.messages.find(opener.componentMessageId);
    const data = { custom_id: String(modal.custom_id), components };
    const triggering = opener.metadata;
    return this.#register(InteractionType.ModalSubmit, place, memberPermissions, input, data, message, {
      metadata: (base) =>
        triggering && triggering.type !== InteractionType.ModalSubmit
          ? { ...base, type: InteractionType.ModalSubmit, triggering_interaction_metadata: triggering }
          : undefined,
      isChatInputCommand: false,
    });
  }

  /** POST /interactions/:interaction/:token/callback */
  callback(
    id: string,
    token: string,
    body: unknown,
    uploads: readonly UploadedFile[],
    withResponse: boolean,
  ) {
    const record = this.#byId.get(id);
    if (record?.token !== token) throw DiscordHttpError.unknownInteraction();
    if (record.response) {
      record.rejectedCallbacks += 1;
      throw DiscordHttpError.alreadyAcknowledged();
    }
    const now = this.options.clock.now();
    if (now - record.dispatchedAt > this.options.ackTimeoutMs) {
      record.rejectedCallbacks += 1;
      throw DiscordHttpError.unknownInteraction();
    }
    const check = new PayloadChecker();
    const callback = check.record(body, [], true) ?? {};
    const type = check.oneOf(callback.type, ['type'], ALLOWED_CALLBACKS[record.type], true);
    check.errors.throwIfAny();
    if (type === undefined) throw DiscordHttpError.invalidJson();
    if (
      (type === InteractionResponseType.DeferredMessageUpdate ||
        type === InteractionResponseType.UpdateMessage) &&
      record.componentMessageId === undefined
    ) {
      throw DiscordHttpError.fieldError(
        ['type'],
        'INTERACTION_CALLBACK_TYPE_INVALID',
        'This interaction has no message to update',
      );
    }
    const data =
      callback.data === undefined || callback.data === null
        ? undefined
        : check.record(callback.data, ['data']);
    check.errors.throwIfAny();
    this.#applyCallback(record, type, data, uploads);
    record.response = { type, data, at: now, latencyMs: now - record.dispatchedAt };
    this.options.onChange();
    if (!withResponse) return { status: 204 } satisfies CallbackResult;
    return { status: 200, body: this.#callbackResponse(record, type) } satisfies CallbackResult;
  }

  /** The interaction behind a webhook route, if its token is still good. */
  webhook(applicationId: string, token: string): InteractionRecord {
    if (applicationId !== this.options.applicationId) throw DiscordHttpError.unknownWebhook();
    const record = this.#byToken.get(token);
    if (!record || record.tokenRevoked) throw DiscordHttpError.invalidWebhookToken();
    if (this.options.clock.now() - record.dispatchedAt >= this.options.tokenLifetimeMs) {
      throw DiscordHttpError.invalidWebhookToken();
    }
    const response = record.response?.type;
    if (
      response === undefined ||
      response === InteractionResponseType.ApplicationCommandAutocompleteResult ||
      response === InteractionResponseType.Modal
    ) {
      throw DiscordHttpError.unknownWebhook();
    }
    return record;
  }

  /** `@original` or the id of the original response or a follow-up of this interaction. */
  webhookMessage(record: InteractionRecord, messageId: string): StoredMessage {
    const id = messageId === '@original' ? record.originalMessageId : messageId;
    const belongs = id !== undefined && (id === record.originalMessageId || record.followUpIds.includes(id));
    const message = belongs ? this.options.messages.find(id) : undefined;
    if (!message) throw DiscordHttpError.unknownMessage();
    return message;
  }

  editWebhookMessage(message: StoredMessage, body: unknown, uploads: readonly UploadedFile[]): void {
    this.options.messages.edit(message, validateMessagePayload(body, uploads), uploads);
  }

  /** POST /webhooks/:app/:token: a follow-up; the first one after a deferral fills the deferred reply. */
  followUp(record: InteractionRecord, body: unknown, uploads: readonly UploadedFile[]): StoredMessage {
    const payload = validateMessagePayload(body, uploads);
    requireNonEmpty(payload, uploads);
    const { messages } = this.options;
    const original =
      record.originalMessageId === undefined ? undefined : messages.find(record.originalMessageId);
    if (original?.loading) {
      messages.edit(original, payload, uploads);
      return original;
    }
    const message = messages.create({
      channelId: record.channelId,
      guildId: record.guildId,
      kind: 'follow-up',
      payload,
      uploads,
      extraFlags: (payload.flags ?? 0) & MessageFlags.Ephemeral,
      interactionId: record.id,
      webhookId: this.options.applicationId,
      ...replyTo(original),
      ...(record.metadata
        ? {
            interactionMetadata: {
              ...record.metadata,
              ...(original ? { original_response_message_id: original.id } : {}),
            },
          }
        : {}),
    });
    record.followUpIds.push(message.id);
    this.options.onChange();
    return message;
  }

  #applyCallback(
    record: InteractionRecord,
    type: InteractionResponseType,
    data: JsonObject | undefined,
    uploads: readonly UploadedFile[],
  ): void {
    const { messages } = this.options;
    switch (type) {
      case InteractionResponseType.ChannelMessageWithSource:
      case InteractionResponseType.DeferredChannelMessageWithSource: {
        const deferred = type === InteractionResponseType.DeferredChannelMessageWithSource;
        const payload = deferred ? { hasStickersOrPoll: false } : validateMessagePayload(data, uploads);
        if (!deferred) requireNonEmpty(payload, uploads);
        const requestedFlags = typeof data?.flags === 'number' ? data.flags : 0;
        const message = messages.create({
          channelId: record.channelId,
          guildId: record.guildId,
          kind: 'interaction-response',
          type: responseMessageType(record),
          payload,
          uploads: deferred ? [] : uploads,
          extraFlags: (requestedFlags & MessageFlags.Ephemeral) | (deferred ? MessageFlags.Loading : 0),
          interactionId: record.id,
          webhookId: this.options.applicationId,
          ...(record.metadata ? { interactionMetadata: record.metadata } : {}),
        });
        record.originalMessageId = message.id;
        return;
      }
      case InteractionResponseType.DeferredMessageUpdate:
        record.originalMessageId = record.componentMessageId;
        return;
      case InteractionResponseType.UpdateMessage: {
        const message =
          record.componentMessageId === undefined ? undefined : messages.find(record.componentMessageId);
        if (!message) throw DiscordHttpError.unknownMessage();
        messages.edit(message, validateMessagePayload(data ?? {}, uploads), uploads);
        record.originalMessageId = message.id;
        return;
      }
      case InteractionResponseType.ApplicationCommandAutocompleteResult:
        record.autocompleteChoices = validateAutocompleteChoices(data);
        return;
      case InteractionResponseType.Modal:
        record.modal = validateModal(data);
        return;
      default:
        throw DiscordHttpError.fieldError(
          ['type'],
          'INTERACTION_CALLBACK_TYPE_INVALID',
          `Callback type ${type} is not supported`,
        );
    }
  }

  #callbackResponse(record: InteractionRecord, type: InteractionResponseType) {
    const message =
      record.originalMessageId === undefined
        ? undefined
        : this.options.messages.find(record.originalMessageId);
    const carriesMessage =
      type === InteractionResponseType.ChannelMessageWithSource ||
      type === InteractionResponseType.DeferredChannelMessageWithSource ||
      type === InteractionResponseType.UpdateMessage;
    return {
      interaction: {
        id: record.id,
        type: record.type,
        ...(message && carriesMessage
          ? {
              response_message_id: message.id,
              response_message_loading: message.loading,
              response_message_ephemeral: message.ephemeral,
            }
          : {}),
      },
      resource: {
        type,
        ...(message && carriesMessage ? { message: this.options.messages.render(message) } : {}),
      },
    };
  }

  #componentMessage(reference: EmulatorMessage | string): EmulatorMessage {
    const id = typeof reference === 'string' ? reference : reference.id;
    const message = this.options.messages.find(id);
    if (!message) throw new EmulatorUsageError(`message ${id} does not exist (or was deleted)`);
    return message;
  }

  #place(
    guildId: string | null | undefined,
    channelId: string | undefined,
    userReference: string | undefined,
  ): Place {
    const { world } = this.options;
    const user = userReference === undefined ? world.users[0] : world.user(userReference);
    if (!user) throw new EmulatorUsageError('the emulator has no users to act as');
    if (guildId === null) {
      const channel = channelId === undefined ? world.dmChannel(user.id) : world.channel(channelId);
      return { guild: undefined, channel, user };
    }
    const guild = guildId === undefined ? world.guilds[0] : world.guild(guildId);
    if (!guild) throw new EmulatorUsageError('the emulator has no guilds');
    const channel = channelId === undefined ? guild.channels[0] : world.channel(channelId);
    if (channel?.guildId !== guild.id) {
      throw new EmulatorUsageError(`channel ${channelId ?? '(default)'} is not in guild ${guild.id}`);
    }
    if (!guild.members.has(user.id))
      throw new EmulatorUsageError(`user ${user.username} is not a member of guild ${guild.name}`);
    return { guild, channel, user };
  }

  #memberPermissions(place: Place, input: InteractionContextInput): bigint {
    if (input.memberPermissions !== undefined) return resolvePermissions(input.memberPermissions);
    return place.guild ? this.options.world.memberPermissions(place.guild, place.user.id) : 0n;
  }

  #register(
    type: InteractionType,
    place: Place,
    memberPermissions: bigint,
    input: InteractionContextInput,
    data: unknown,
    message: EmulatorMessage | undefined,
    kind: {
      metadata: (base: MetadataBase) => APIMessageInteractionMetadata | undefined;
      isChatInputCommand: boolean;
    },
  ): InteractionRecord {
    const { world, ids, clock, applicationId } = this.options;
    const id = ids.next();
    const token = `aW50ZXJhY3Rpb246${id}:${randomBytes(96).toString('base64url')}`;
    const { guild, channel, user } = place;
    const appPermissions =
      input.appPermissions === undefined
        ? world.botPermissionsIn(channel)
        : resolvePermissions(input.appPermissions);
    const lastMessageId = this.options.messages.lastMessageId(channel.id);
    const owners = { [ApplicationIntegrationType.GuildInstall]: guild?.id ?? '0' };
    const payload = {
      id,
      application_id: applicationId,
      type,
      token,
      version: 1,
      data,
      app_permissions: appPermissions.toString(),
      locale: input.locale ?? user.locale,
      entitlements: [],
      authorizing_integration_owners: owners,
      context: guild ? InteractionContextType.Guild : InteractionContextType.BotDM,
      attachment_size_limit: this.options.attachmentSizeLimit,
      ...deprecatedFields(channel),
      channel: guild
        ? { ...apiGuildChannel(channel, lastMessageId), permissions: memberPermissions.toString() }
        : apiDmChannel(world, channel, lastMessageId),
      ...(message ? { message: this.options.messages.render(message) } : {}),
      ...(guild
        ? {
            guild_id: guild.id,
            guild: { id: guild.id, locale: guild.preferredLocale, features: [] },
            guild_locale: guild.preferredLocale,
            member: interactionMember(world, guild, user, memberPermissions),
          }
        : { user: apiUser(user) }),
    } as APIInteraction;
    const metadata = kind.metadata({ id, user: apiUser(user), authorizing_integration_owners: owners });
    const record: InteractionRecord = {
      id,
      token,
      type,
      payload,
      dispatchedAt: clock.now(),
      guildId: guild?.id ?? null,
      channelId: channel.id,
      userId: user.id,
      componentMessageId: message?.id,
      metadata,
      isChatInputCommand: kind.isChatInputCommand,
      response: undefined,
      rejectedCallbacks: 0,
      originalMessageId: undefined,
      followUpIds: [],
      tokenRevoked: false,
      modal: undefined,
      autocompleteChoices: undefined,
    };
    this.#byId.set(id, record);
    this.#byToken.set(token, record);
    this.options.onChange();
    return record;
  }
}

/** A command's response is of its command's kind; a component's or modal's is a default message. */
function responseMessageType(record: InteractionRecord): MessageType {
  if (record.isChatInputCommand) return MessageType.ChatInputCommand;
  return record.type === InteractionType.ApplicationCommand
    ? MessageType.ContextMenuCommand
    : MessageType.Default;
}

/** Fields Discord still sends although discord-api-types marks them deprecated. */
function deprecatedFields(channel: EmulatorChannel): { channel_id: string } {
  return { channel_id: channel.id };
}

interface MetadataBase {
  id: string;
  user: APIUser;
  authorizing_integration_owners: Partial<Record<ApplicationIntegrationType, string>>;
}

function interactionMember(
  world: World,
  guild: EmulatorGuild,
  user: EmulatorUser,
  permissions: bigint,
): APIInteractionGuildMember {
  const member = guild.members.get(user.id);
  if (!member) throw new EmulatorUsageError(`user ${user.username} is not a member of guild ${guild.name}`);
  return { ...apiMember(world, member), user: apiUser(user), permissions: permissions.toString() };
}
