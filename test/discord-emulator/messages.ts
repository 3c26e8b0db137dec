/**
 * Messages the bot created, in channels or as interaction responses and follow-ups, and messages
 * users posted, with their attachments' bytes, and their rendering as Discord message objects.
 */
import {
  ComponentType,
  MessageFlags,
  MessageReferenceType,
  MessageType,
  type APIAttachment,
  type APIEmbed,
  type APIMessage,
  type APIMessageInteractionMetadata,
  type APIMessageTopLevelComponent,
} from 'discord.js';
import type { EmulatorClock } from './clock.js';
import { DiscordHttpError, EmulatorUsageError } from './errors.js';
import type { SnowflakeGenerator } from './snowflake.js';
import {
  MESSAGE_LIMITS,
  visitComponents,
  type AttachmentReference,
  type JsonObject,
  type MessagePayload,
  type UploadedFile,
} from './validation.js';
import { enumMember, bitfield } from './wire.js';
import { apiUser, type World } from './world.js';

export type MessageKind = 'channel' | 'interaction-response' | 'follow-up';

export interface EmulatorAttachment {
  readonly id: string;
  readonly filename: string;
  readonly contentType: string | undefined;
  readonly size: number;
  readonly data: Buffer;
  /** Served by the emulator, so a bot can download what it (or a user) posted. */
  readonly url: string;
  readonly description: string | undefined;
  readonly title: string | undefined;
  /** Read from the PNG header; undefined for other formats. */
  readonly width: number | undefined;
  readonly height: number | undefined;
  /** Part of an ephemeral message. */
  readonly ephemeral: boolean;
}

export interface EmulatorMessage {
  readonly id: string;
  readonly channelId: string;
  readonly guildId: string | null;
  readonly authorId: string;
  readonly kind: MessageKind;
  readonly type: MessageType;
  /** The interaction this message answers (original response or follow-up). */
  readonly interactionId: string | undefined;
  readonly content: string;
  readonly embeds: readonly APIEmbed[];
  readonly components: readonly APIMessageTopLevelComponent[];
  readonly attachments: readonly EmulatorAttachment[];
  readonly flags: number;
  readonly createdAt: number;
  readonly editedAt: number | undefined;
  readonly deletedAt: number | undefined;
  /** How many times the message was edited (a deferred reply's first edit counts). */
  readonly editCount: number;
  readonly ephemeral: boolean;
  /** A deferred reply still showing "thinking...". */
  readonly loading: boolean;
}

interface MessageRecord {
  id: string;
  channelId: string;
  guildId: string | null;
  authorId: string;
  kind: MessageKind;
  type: MessageType;
  interactionId: string | undefined;
  interactionMetadata: APIMessageInteractionMetadata | undefined;
  referencedMessageId: string | undefined;
  webhookId: string | undefined;
  content: string;
  embeds: APIEmbed[];
  components: APIMessageTopLevelComponent[];
  attachments: EmulatorAttachment[];
  flags: number;
  tts: boolean;
  createdAt: number;
  editedAt: number | undefined;
  deletedAt: number | undefined;
  editCount: number;
  nonce: string | undefined;
}

/**
 * How long Discord remembers a nonce for `enforce_nonce` ("the past few minutes"; the exact span
 * is not documented, so the emulator takes five).
 */
export const NONCE_WINDOW_MS = 5 * 60_000;

/** A message as the emulator keeps it; `EmulatorMessage` is the read-only view tests get. */
export class StoredMessage implements EmulatorMessage {
  constructor(readonly record: MessageRecord) {}
  get id() {
    return this.record.id;
  }
  get channelId() {
    return this.record.channelId;
  }
  get guildId() {
    return this.record.guildId;
  }
  get authorId() {
    return this.record.authorId;
  }
  get kind() {
    return this.record.kind;
  }
  get type() {
    return this.record.type;
  }
  get interactionId() {
    return this.record.interactionId;
  }
  get content() {
    return this.record.content;
  }
  get embeds(): readonly APIEmbed[] {
    return this.record.embeds;
  }
  get components(): readonly APIMessageTopLevelComponent[] {
    return this.record.components;
  }
  get attachments(): readonly EmulatorAttachment[] {
    return this.record.attachments;
  }
  get flags() {
    return this.record.flags;
  }
  get createdAt() {
    return this.record.createdAt;
  }
  get editedAt() {
    return this.record.editedAt;
  }
  get deletedAt() {
    return this.record.deletedAt;
  }
  get editCount() {
    return this.record.editCount;
  }
  get ephemeral() {
    return (this.record.flags & MessageFlags.Ephemeral) !== 0;
  }
  get loading() {
    return (this.record.flags & MessageFlags.Loading) !== 0;
  }
}

/** Flags a sender may set; Loading and Ephemeral come from how the message was created. */
const SETTABLE_FLAGS =
  MessageFlags.SuppressEmbeds | MessageFlags.SuppressNotifications | MessageFlags.IsComponentsV2;

export interface NewMessage {
  channelId: string;
  guildId: string | null;
  kind: MessageKind;
  type: MessageType;
  payload: MessagePayload;
  uploads: readonly UploadedFile[];
  /** Ephemeral and Loading, which only interaction responses may carry. */
  extraFlags?: number;
  /** Default: the bot. A user's message (posted with `postUserMessage`). */
  authorId?: string;
  interactionId?: string;
  interactionMetadata?: APIMessageInteractionMetadata;
  referencedMessageId?: string;
  webhookId?: string;
}

/** The type of a new message, and what it replies to when `referenced` is given. */
export function replyTo(
  referenced: StoredMessage | undefined,
): Pick<NewMessage, 'type' | 'referencedMessageId'> {
  return referenced
    ? { type: MessageType.Reply, referencedMessageId: referenced.id }
    : { type: MessageType.Default };
}

export interface MessageStoreOptions {
  ids: SnowflakeGenerator;
  clock: EmulatorClock;
  world: World;
  applicationId: string;
  attachmentSizeLimit: number;
  /** Base of attachment URLs, e.g. http://127.0.0.1:PORT */
  baseUrl: () => string;
  onChange: () => void;
}

export class MessageStore {
  readonly #messages: StoredMessage[] = [];
  readonly #byId = new Map<string, StoredMessage>();
  /** Files users attached to command options; they belong to no message. */
  readonly #userUploads: { channelId: string; attachment: EmulatorAttachment }[] = [];

  constructor(private readonly options: MessageStoreOptions) {}

  get all(): readonly EmulatorMessage[] {
    return this.#messages;
  }

  /** A message that exists (not deleted). */
  find(id: string): StoredMessage | undefined {
    const message = this.#byId.get(id);
    return message && message.record.deletedAt === undefined ? message : undefined;
  }

  inChannel(channelId: string): StoredMessage[] {
    return this.#messages.filter((m) => m.channelId === channelId && m.deletedAt === undefined);
  }

  /**
   * The bot's message created with `nonce` within NONCE_WINDOW_MS, as Discord returns it for a
   * create with `enforce_nonce` instead of posting again (deleted or not, it was created).
   */
  recentWithNonce(authorId: string, nonce: string): StoredMessage | undefined {
    const since = this.options.clock.now() - NONCE_WINDOW_MS;
    return this.#messages.find(
      (m) => m.record.nonce === nonce && m.authorId === authorId && m.createdAt >= since,
    );
  }

  lastMessageId(channelId: string): string | null {
    return this.inChannel(channelId).at(-1)?.id ?? null;
  }

  create(input: NewMessage): StoredMessage {
    const id = this.options.ids.next();
    const ephemeral = ((input.extraFlags ?? 0) & MessageFlags.Ephemeral) !== 0;
    const attachments = this.#attachmentsFor(
      input.channelId,
      [],
      input.payload.attachments,
      input.uploads,
      ephemeral,
    );
    const record: MessageRecord = {
      id,
      channelId: input.channelId,
      guildId: input.guildId,
      authorId: input.authorId ?? this.options.world.bot.id,
      kind: input.kind,
      type: input.type,
      interactionId: input.interactionId,
      interactionMetadata: input.interactionMetadata,
      referencedMessageId: input.referencedMessageId,
      webhookId: input.webhookId,
      content: input.payload.content ?? '',
      embeds: input.payload.embeds ?? [],
      components: input.payload.components ?? [],
      attachments,
      flags: ((input.payload.flags ?? 0) & SETTABLE_FLAGS) | (input.extraFlags ?? 0),
      tts: input.payload.tts ?? false,
      createdAt: this.options.clock.now(),
      editedAt: undefined,
      deletedAt: undefined,
      editCount: 0,
      nonce: input.payload.nonce,
    };
    const message = new StoredMessage(record);
    this.#messages.push(message);
    this.#byId.set(id, message);
    this.options.onChange();
    return message;
  }

  /** Applies an edit: given fields replace, `attachments` lists what stays, new files are added. */
  edit(message: StoredMessage, payload: MessagePayload, uploads: readonly UploadedFile[]): void {
    const record = message.record;
    const ephemeral = (record.flags & MessageFlags.Ephemeral) !== 0;
    const attachments = this.#attachmentsFor(
      record.channelId,
      record.attachments,
      payload.attachments,
      uploads,
      ephemeral,
    );
    if (payload.content !== undefined) record.content = payload.content;
    if (payload.embeds !== undefined) record.embeds = payload.embeds;
    if (payload.components !== undefined) record.components = payload.components;
    if (payload.flags !== undefined) {
      record.flags = (record.flags & ~SETTABLE_FLAGS) | (payload.flags & SETTABLE_FLAGS);
    }
    record.attachments = attachments;
    record.flags &= ~MessageFlags.Loading;
    record.editedAt = this.options.clock.now();
    record.editCount += 1;
    this.options.onChange();
  }

  delete(message: StoredMessage): void {
    message.record.deletedAt = this.options.clock.now();
    this.options.onChange();
  }

  /** An attachment of a message, or a file a user sent with a command, by channel and id. */
  attachment(channelId: string, attachmentId: string): EmulatorAttachment | undefined {
    const inMessages = this.#messages
      .filter((message) => message.channelId === channelId)
      .flatMap((message) => message.attachments);
    const uploads = this.#userUploads.filter((u) => u.channelId === channelId).map((u) => u.attachment);
    return [...inMessages, ...uploads].find((attachment) => attachment.id === attachmentId);
  }

  /** Stores a file a user sent with a command option, so its URL can be downloaded. */
  userUpload(
    channelId: string,
    upload: { filename: string; contentType?: string; data: Buffer },
  ): EmulatorAttachment {
    const attachment = this.#newAttachment(
      channelId,
      { field: 'files[0]', filename: upload.filename, contentType: upload.contentType, data: upload.data },
      undefined,
      true,
    );
    this.#userUploads.push({ channelId, attachment });
    return attachment;
  }

  #attachmentsFor(
    channelId: string,
    existing: readonly EmulatorAttachment[],
    references: readonly AttachmentReference[] | undefined,
    uploads: readonly UploadedFile[],
    ephemeral: boolean,
  ): EmulatorAttachment[] {
    for (const upload of uploads) {
      if (upload.data.length > this.options.attachmentSizeLimit) throw DiscordHttpError.entityTooLarge();
    }
    const uploadIndex = (upload: UploadedFile, position: number): string =>
      /^files\[(\d+)\]$/.exec(upload.field)?.[1] ?? String(position);
    const indexed = new Map(uploads.map((upload, position) => [uploadIndex(upload, position), upload]));
    const attachments =
      references === undefined
        ? [
            ...existing,
            ...[...indexed.values()].map((upload) =>
              this.#newAttachment(channelId, upload, undefined, ephemeral),
            ),
          ]
        : references.map((reference, index) => {
            const kept = existing.find((attachment) => attachment.id === reference.id);
            if (kept) return kept;
            const upload = indexed.get(reference.id);
            if (!upload) {
              throw DiscordHttpError.fieldError(
                ['attachments', index, 'id'],
                'ATTACHMENT_NOT_FOUND',
                `Attachment data not found for id ${reference.id}`,
              );
            }
            return this.#newAttachment(channelId, upload, reference, ephemeral);
          });
    if (attachments.length > MESSAGE_LIMITS.attachments) {
      throw DiscordHttpError.fieldError(
        ['attachments'],
        'BASE_TYPE_MAX_LENGTH',
        `Must be ${MESSAGE_LIMITS.attachments} or fewer in length.`,
      );
    }
    return attachments;
  }

  #newAttachment(
    channelId: string,
    upload: UploadedFile,
    reference: AttachmentReference | undefined,
    ephemeral: boolean,
  ): EmulatorAttachment {
    const id = this.options.ids.next();
    const filename = reference?.filename ?? upload.filename;
    const size = pngSize(upload.data);
    return {
      id,
      filename,
      contentType: upload.contentType,
      size: upload.data.length,
      data: upload.data,
      url: `${this.options.baseUrl()}/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`,
      description: reference?.description,
      title: reference?.title,
      width: size?.width,
      height: size?.height,
      ephemeral,
    };
  }

  render(message: EmulatorMessage): APIMessage {
    const stored = this.#byId.get(message.id);
    if (!stored) throw new EmulatorUsageError(`message ${message.id} is not one of this emulator's`);
    const record = stored.record;
    const { world, applicationId } = this.options;
    const api: APIMessage = {
      id: record.id,
      channel_id: record.channelId,
      author: apiUser(world.user(record.authorId)),
      content: record.content,
      timestamp: new Date(record.createdAt).toISOString(),
      edited_timestamp: record.editedAt === undefined ? null : new Date(record.editedAt).toISOString(),
      tts: record.tts,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: record.attachments.map(apiAttachment),
      embeds: record.embeds,
      components: record.components,
      pinned: false,
      type: record.type,
      flags: bitfield(MessageFlags, record.flags),
    };
    if (record.nonce !== undefined) api.nonce = record.nonce;
    if (record.webhookId !== undefined) {
      api.webhook_id = record.webhookId;
      api.application_id = applicationId;
    }
    if (record.interactionMetadata) api.interaction_metadata = record.interactionMetadata;
    if (record.referencedMessageId !== undefined) {
      api.message_reference = {
        type: MessageReferenceType.Default,
        message_id: record.referencedMessageId,
        channel_id: record.channelId,
        ...(record.guildId === null ? {} : { guild_id: record.guildId }),
      };
    }
    return api;
  }
}

export function apiAttachment(attachment: EmulatorAttachment): APIAttachment {
  const api: APIAttachment = {
    id: attachment.id,
    filename: attachment.filename,
    size: attachment.size,
    url: attachment.url,
    proxy_url: attachment.url,
    height: attachment.height ?? null,
    width: attachment.width ?? null,
  };
  if (attachment.contentType !== undefined) api.content_type = attachment.contentType;
  if (attachment.description !== undefined) api.description = attachment.description;
  if (attachment.title !== undefined) api.title = attachment.title;
  if (attachment.ephemeral) api.ephemeral = true;
  return api;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length < 24 || !data.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

export interface FoundComponent {
  readonly component: JsonObject;
  readonly type: ComponentType;
}

/** Finds the interactive component with this custom_id anywhere in a message's layout. */
export function findComponent(message: EmulatorMessage, customId: string): FoundComponent | undefined {
  let found: FoundComponent | undefined;
  visitComponents(message.components, [], (component) => {
    const type = enumMember(ComponentType, component.type);
    if (!found && component.custom_id === customId && type !== undefined) found = { component, type };
  });
  return found;
}

/** Every custom_id in a message, in layout order. */
export function customIdsOf(message: EmulatorMessage): string[] {
  const ids: string[] = [];
  visitComponents(message.components, [], (component) => {
    if (typeof component.custom_id === 'string') ids.push(component.custom_id);
  });
  return ids;
}

export function requireComponent(message: EmulatorMessage, customId: string): FoundComponent {
  const found = findComponent(message, customId);
  if (!found) {
    const known = customIdsOf(message);
    throw new EmulatorUsageError(
      `message ${message.id} has no component with custom_id "${customId}" (it has: ${known.length > 0 ? known.join(', ') : 'none'})`,
    );
  }
  if (found.component.disabled === true) {
    throw new EmulatorUsageError(
      `component "${customId}" of message ${message.id} is disabled and cannot be used`,
    );
  }
  return found;
}
