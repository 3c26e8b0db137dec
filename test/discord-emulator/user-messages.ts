/**
 * Messages users post in a channel (text and files), such as a "foreign" image a member shares and
 * then uses a message command on. Discord's rules apply: the user must be a member who may send
 * messages (and attach files) there, content up to 2000 characters, up to 10 files, each within the
 * size limit, and a message is never empty. The bot is not told (it has no message intents); it
 * sees the message through interactions and REST.
 */
import { MessageType, PermissionFlagsBits } from 'discord.js';
import { DiscordHttpError, EmulatorUsageError } from './errors.js';
import type { MessageStore, StoredMessage } from './messages.js';
import { requireNonEmpty, validateMessagePayload, type UploadedFile } from './validation.js';
import type { World } from './world.js';

export interface PostUserMessageInput {
  /** User id or username (default: the first user). */
  user?: string;
  /** Channel id (default: the first guild's first channel). */
  channelId?: string;
  content?: string;
  files?: readonly { filename: string; contentType?: string; data: Buffer }[];
}

export function postUserMessage(
  world: World,
  messages: MessageStore,
  input: PostUserMessageInput,
): StoredMessage {
  const user = input.user === undefined ? world.users[0] : world.user(input.user);
  if (!user) throw new EmulatorUsageError('the emulator has no users to act as');
  const channel =
    input.channelId === undefined ? world.guilds[0]?.channels[0] : world.channel(input.channelId);
  if (!channel) throw new EmulatorUsageError('the emulator has no channel to post in');
  const uploads: UploadedFile[] = (input.files ?? []).map((file, index) => ({
    field: `files[${index}]`,
    filename: file.filename,
    contentType: file.contentType,
    data: file.data,
  }));
  if (channel.guildId === null) {
    if (world.dmChannel(user.id).id !== channel.id) throw DiscordHttpError.missingAccess();
  } else {
    const guild = world.guild(channel.guildId);
    if (!guild.members.has(user.id)) {
      throw new EmulatorUsageError(`user ${user.username} is not a member of guild ${guild.name}`);
    }
    const permissions = world.memberPermissions(guild, user.id);
    const needed =
      PermissionFlagsBits.SendMessages | (uploads.length > 0 ? PermissionFlagsBits.AttachFiles : 0n);
    const administrator = (permissions & PermissionFlagsBits.Administrator) !== 0n;
    if (!administrator && (permissions & needed) !== needed) throw DiscordHttpError.missingPermissions();
  }
  const payload = validateMessagePayload(
    input.content === undefined ? {} : { content: input.content },
    uploads,
  );
  requireNonEmpty(payload, uploads);
  return messages.create({
    channelId: channel.id,
    guildId: channel.guildId,
    kind: 'channel',
    type: MessageType.Default,
    payload,
    uploads,
    authorId: user.id,
  });
}
