/**
 * The few Discord calls the bot makes, with Discord's failure modes sorted out: an interaction
 * already answered (by another replica), a dead interaction token (expired, 401 / 50027), and
 * failures that retrying cannot fix (no access to the channel).
 */
import {
  DiscordAPIError,
  MessageFlags,
  RESTJSONErrorCodes,
  type BaseMessageOptions,
  type Client,
  type InteractionEditReplyOptions,
  type MessageCreateOptions,
  type RepliableInteraction,
} from 'discord.js';
import { createHash } from 'node:crypto';
import { SdbotError } from '@sdbot/shared';
import type { OutgoingMessage } from '../delivery/views.js';

function apiError(error: unknown): DiscordAPIError | undefined {
  return error instanceof DiscordAPIError ? error : undefined;
}

/** Another replica answered first (40060), or the interaction is gone (10062). */
export function isAlreadyAnswered(error: unknown): boolean {
  const code = apiError(error)?.code;
  return (
    code === RESTJSONErrorCodes.InteractionHasAlreadyBeenAcknowledged ||
    code === RESTJSONErrorCodes.UnknownInteraction
  );
}

/** The interaction's token no longer works, or its message is gone: post to the channel instead. */
export function isDeadReply(error: unknown): boolean {
  const failure = apiError(error);
  if (failure === undefined) return false;
  return (
    failure.status === 401 ||
    failure.code === RESTJSONErrorCodes.InvalidWebhookToken ||
    failure.code === RESTJSONErrorCodes.UnknownWebhook ||
    failure.code === RESTJSONErrorCodes.UnknownMessage
  );
}

/** Posting cannot succeed by trying again (no access to the channel, or it is gone). */
export function isPermanentDiscordFailure(error: unknown): boolean {
  const status = apiError(error)?.status;
  return status === 403 || status === 404;
}

function files(message: OutgoingMessage) {
  return message.files.map((file) => ({ attachment: file.data, name: file.name }));
}

function baseOptions(message: OutgoingMessage): BaseMessageOptions {
  return {
    content: message.content,
    embeds: message.embeds,
    components: message.components,
    files: files(message),
    allowedMentions: { parse: [], users: message.mentionUsers },
  };
}

export function createOptions(message: OutgoingMessage): MessageCreateOptions {
  return baseOptions(message);
}

/** Replaces the whole message, attachments included. */
export function editOptions(message: OutgoingMessage): InteractionEditReplyOptions {
  return { ...baseOptions(message), attachments: [] };
}

/** Discord keeps at most this many characters of a message nonce. */
const NONCE_LENGTH = 25;

/**
 * The nonce of a job's channel post: the same for every process that posts it, at most 25
 * characters (a job id is longer, so it is hashed). With `enforce_nonce`, Discord returns the
 * message already created with it for a few minutes instead of posting it again.
 */
export function channelPostNonce(jobId: string): string {
  return createHash('sha256').update(jobId).digest('base64url').slice(0, NONCE_LENGTH);
}

/**
 * Posts with the bot token, for results whose interaction can no longer be used. `nonce` makes a
 * repeated post (an instance killed before it recorded the delivery) return the first message.
 */
export async function postToChannel(
  client: Client,
  channelId: string,
  message: OutgoingMessage,
  { nonce }: { nonce?: string } = {},
): Promise<void> {
  const channel = await client.channels.fetch(channelId);
  if (!channel?.isSendable()) {
    throw new SdbotError('DISCORD_API', `channel ${channelId} cannot receive messages from the bot`, {
      retryable: false,
    });
  }
  await channel.send({
    ...createOptions(message),
    ...(nonce === undefined ? {} : { nonce, enforceNonce: true }),
  });
}

/** Discord's interaction token lifetime. */
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60 * 1000;

/** Edits stop a little before the token dies, so a slow request does not straddle the deadline. */
const TOKEN_SAFETY_MARGIN_MS = 30 * 1000;

/** When the bot stops using an interaction's token. */
export function tokenExpiry(interaction: RepliableInteraction): number {
  return interaction.createdTimestamp + INTERACTION_TOKEN_LIFETIME_MS - TOKEN_SAFETY_MARGIN_MS;
}

/**
 * The deferred reply of an interaction, edited as a job advances. Once Discord says the token is
 * dead it is never used again (Discord bans IPs that keep sending dead tokens).
 */
export class InteractionReply {
  private dead = false;
  private notes: readonly string[] = [];

  constructor(
    private readonly interaction: RepliableInteraction,
    readonly expiresAt: number,
    private readonly now: () => number,
  ) {}

  /**
   * Private notes for the requester (a preference lowered to a limit). They follow the first edit:
   * a follow-up sent while the deferred reply still says "thinking" would replace it.
   */
  withNotes(notes: readonly string[]): this {
    this.notes = notes;
    return this;
  }

  private async sendNotes(): Promise<void> {
    const notes = this.notes;
    if (notes.length === 0) return;
    this.notes = [];
    await this.interaction.followUp({
      content: notes.join('\n'),
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
  }

  usable(): boolean {
    return !this.dead && this.now() < this.expiresAt;
  }

  /** False when the token could not be used (expired or refused): post to the channel instead. */
  async edit(message: OutgoingMessage): Promise<boolean> {
    if (!this.usable()) return false;
    try {
      await this.interaction.editReply(editOptions(message));
      await this.sendNotes();
      return true;
    } catch (error) {
      if (!isDeadReply(error)) throw error;
      this.dead = true;
      return false;
    }
  }
}
