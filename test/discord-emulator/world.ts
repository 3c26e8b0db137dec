/**
 * The emulated Discord "world": users, guilds with their roles, channels and members, and the
 * permission arithmetic the API and interactions need. Also renders these as API objects.
 */
import {
  ChannelType,
  GuildDefaultMessageNotifications,
  GuildExplicitContentFilter,
  GuildMFALevel,
  GuildNSFWLevel,
  GuildPremiumTier,
  GuildVerificationLevel,
  Locale,
  PermissionFlagsBits,
  GuildMemberFlags,
  GuildSystemChannelFlags,
  RoleFlags,
  type APIDMChannel,
  type APIGuild,
  type APIGuildMember,
  type APIRole,
  type APITextChannel,
  type APIUser,
  type GatewayGuildCreateDispatchData,
} from 'discord.js';
import { EmulatorUsageError } from './errors.js';
import { shardOf, type SnowflakeGenerator } from './snowflake.js';
import { bitfield } from './wire.js';

export type PermissionName = keyof typeof PermissionFlagsBits;
/** A permission bit set, or the names of its flags (`['SendMessages', 'AttachFiles']`). */
export type PermissionInput = bigint | readonly PermissionName[];

export interface EmulatorUserInput {
  id?: string;
  username: string;
  globalName?: string;
  /** The user's client locale, sent as `locale` on their interactions (default en-US). */
  locale?: Locale;
}

export interface EmulatorRoleInput {
  id?: string;
  name: string;
  permissions?: PermissionInput;
}

export interface EmulatorChannelInput {
  id?: string;
  name: string;
  /** Age-restricted channel. */
  nsfw?: boolean;
  topic?: string;
  /** What the bot may do in this channel (default: the bot's guild permissions). */
  botPermissions?: PermissionInput;
}

export interface EmulatorMemberInput {
  /** User id or username. */
  user: string;
  /** Role ids or names. */
  roles?: readonly string[];
  nick?: string;
}

export interface EmulatorGuildInput {
  id?: string;
  name: string;
  /** Owner's user id or username (default: a separate user named `<guild name> owner`). */
  owner?: string;
  preferredLocale?: Locale;
  /** Permissions of @everyone (default: what a fresh Discord server grants). */
  everyonePermissions?: PermissionInput;
  /** Permissions of the bot's managed role (default: view, send, embed, attach, history, react). */
  botPermissions?: PermissionInput;
  /** Default: #general and an age-restricted #nsfw. */
  channels?: readonly EmulatorChannelInput[];
  roles?: readonly EmulatorRoleInput[];
  /** Default: every user of the emulator, without roles. */
  members?: readonly EmulatorMemberInput[];
}

export interface EmulatorUser {
  readonly id: string;
  readonly username: string;
  readonly globalName: string | null;
  readonly bot: boolean;
  readonly locale: Locale;
}

export interface EmulatorRole {
  readonly id: string;
  readonly name: string;
  readonly permissions: bigint;
  readonly position: number;
  /** The bot's own role, granted by its integration. */
  readonly managed: boolean;
  readonly botId: string | undefined;
}

export interface EmulatorChannel {
  readonly id: string;
  readonly type: ChannelType.GuildText | ChannelType.DM;
  /** Null for direct messages. */
  readonly guildId: string | null;
  readonly name: string;
  readonly nsfw: boolean;
  readonly topic: string | null;
  readonly position: number;
  readonly botPermissions: bigint | undefined;
  /** The other side of a direct message channel. */
  readonly recipientId: string | undefined;
}

export interface EmulatorMember {
  readonly userId: string;
  readonly roles: readonly string[];
  readonly nick: string | null;
  readonly joinedAt: string;
}

export interface EmulatorGuild {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  readonly preferredLocale: Locale;
  readonly joinedAt: string;
  /** roles[0] is @everyone (its id is the guild id). */
  readonly roles: readonly EmulatorRole[];
  readonly channels: readonly EmulatorChannel[];
  readonly members: ReadonlyMap<string, EmulatorMember>;
}

export const ALL_PERMISSIONS = Object.values(PermissionFlagsBits).reduce((all, bit) => all | bit, 0n);

const DEFAULT_EVERYONE_PERMISSIONS: readonly PermissionName[] = [
  'CreateInstantInvite',
  'ChangeNickname',
  'ViewChannel',
  'SendMessages',
  'SendMessagesInThreads',
  'CreatePublicThreads',
  'EmbedLinks',
  'AttachFiles',
  'AddReactions',
  'UseExternalEmojis',
  'UseExternalStickers',
  'ReadMessageHistory',
  'UseApplicationCommands',
  'Connect',
  'Speak',
];

const DEFAULT_BOT_PERMISSIONS: readonly PermissionName[] = [
  'ViewChannel',
  'SendMessages',
  'EmbedLinks',
  'AttachFiles',
  'ReadMessageHistory',
  'AddReactions',
  'UseExternalEmojis',
];

export function resolvePermissions(input: PermissionInput): bigint {
  if (typeof input === 'bigint') return input;
  return input.reduce((bits, name) => {
    if (!Object.hasOwn(PermissionFlagsBits, name)) {
      throw new EmulatorUsageError(`unknown permission name "${name}"`);
    }
    return bits | PermissionFlagsBits[name];
  }, 0n);
}

export function hasPermissions(granted: bigint, required: bigint): boolean {
  return (granted & PermissionFlagsBits.Administrator) !== 0n || (granted & required) === required;
}

export interface WorldOptions {
  bot: { id: string; username: string };
  users: readonly EmulatorUserInput[];
  guilds: readonly EmulatorGuildInput[];
}

const DEFAULT_USERS: readonly EmulatorUserInput[] = [{ username: 'alice' }, { username: 'bob' }];
const DEFAULT_GUILDS: readonly EmulatorGuildInput[] = [{ name: 'Emulated Guild' }];
const DEFAULT_CHANNELS: readonly EmulatorChannelInput[] = [{ name: 'general' }, { name: 'nsfw', nsfw: true }];

export class World {
  readonly bot: EmulatorUser;
  readonly #users = new Map<string, EmulatorUser>();
  readonly #guilds = new Map<string, EmulatorGuild>();
  readonly #channels = new Map<string, EmulatorChannel>();

  constructor(
    options: Partial<WorldOptions> & Pick<WorldOptions, 'bot'>,
    private readonly ids: SnowflakeGenerator,
    private readonly timestamp: () => string,
  ) {
    this.bot = { ...options.bot, globalName: null, bot: true, locale: Locale.EnglishUS };
    this.#users.set(this.bot.id, this.bot);
    for (const input of options.users ?? DEFAULT_USERS) this.addUser(input);
    for (const input of options.guilds ?? DEFAULT_GUILDS) this.#addGuild(input);
  }

  get users(): EmulatorUser[] {
    return [...this.#users.values()].filter((user) => !user.bot);
  }

  get guilds(): EmulatorGuild[] {
    return [...this.#guilds.values()];
  }

  addUser(input: EmulatorUserInput): EmulatorUser {
    const id = input.id ?? this.ids.next();
    if (this.#users.has(id)) throw new EmulatorUsageError(`user id ${id} is used twice`);
    const user: EmulatorUser = {
      id,
      username: input.username,
      globalName: input.globalName ?? null,
      bot: false,
      locale: input.locale ?? Locale.EnglishUS,
    };
    this.#users.set(id, user);
    return user;
  }

  /** A user by id or username; throws naming the reference when there is none. */
  user(reference: string): EmulatorUser {
    const user =
      this.#users.get(reference) ?? [...this.#users.values()].find((u) => u.username === reference);
    if (!user) throw new EmulatorUsageError(`unknown user "${reference}" (give a user id or username)`);
    return user;
  }

  findUser(id: string): EmulatorUser | undefined {
    return this.#users.get(id);
  }

  guild(id: string): EmulatorGuild {
    return known(this.#guilds, id, 'guild');
  }

  findGuild(id: string): EmulatorGuild | undefined {
    return this.#guilds.get(id);
  }

  findChannel(id: string): EmulatorChannel | undefined {
    return this.#channels.get(id);
  }

  channel(id: string): EmulatorChannel {
    return known(this.#channels, id, 'channel');
  }

  /** Marks a guild channel age-restricted or not, as a server admin would; returns the channel as it is now. */
  setChannelNsfw(id: string, nsfw: boolean): EmulatorChannel {
    const channel = { ...this.channel(id), nsfw };
    this.#channels.set(id, channel);
    if (channel.guildId !== null) {
      const guild = this.guild(channel.guildId);
      const channels = guild.channels.map((existing) => (existing.id === id ? channel : existing));
      this.#guilds.set(guild.id, { ...guild, channels });
    }
    return channel;
  }

  /** The direct message channel between the bot and a user, opened on first use. */
  dmChannel(userId: string): EmulatorChannel {
    const existing = [...this.#channels.values()].find(
      (c) => c.type === ChannelType.DM && c.recipientId === userId,
    );
    if (existing) return existing;
    const channel: EmulatorChannel = {
      id: this.ids.next(),
      type: ChannelType.DM,
      guildId: null,
      name: '',
      nsfw: false,
      topic: null,
      position: 0,
      botPermissions: undefined,
      recipientId: userId,
    };
    this.#channels.set(channel.id, channel);
    return channel;
  }

  /** Guild-wide permissions of a member: owner and Administrator get everything. */
  memberPermissions(guild: EmulatorGuild, userId: string): bigint {
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    const member = guild.members.get(userId);
    const roleIds = new Set([guild.id, ...(member?.roles ?? [])]);
    const bits = guild.roles
      .filter((role) => roleIds.has(role.id))
      .reduce((all, role) => all | role.permissions, 0n);
    return (bits & PermissionFlagsBits.Administrator) !== 0n ? ALL_PERMISSIONS : bits;
  }

  /** What the bot may do in a channel (all of it in a direct message). */
  botPermissionsIn(channel: EmulatorChannel): bigint {
    if (channel.guildId === null) return ALL_PERMISSIONS;
    return channel.botPermissions ?? this.memberPermissions(this.guild(channel.guildId), this.bot.id);
  }

  #addGuild(input: EmulatorGuildInput): void {
    const id = input.id ?? this.ids.next();
    if (this.#guilds.has(id)) throw new EmulatorUsageError(`guild id ${id} is used twice`);
    const ownerId = input.owner
      ? this.user(input.owner).id
      : this.addUser({ username: `${input.name} owner` }).id;
    const roles: EmulatorRole[] = [
      {
        id,
        name: '@everyone',
        permissions: resolvePermissions(input.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS),
        position: 0,
        managed: false,
        botId: undefined,
      },
      ...(input.roles ?? []).map((role, index) => ({
        id: role.id ?? this.ids.next(),
        name: role.name,
        permissions: resolvePermissions(role.permissions ?? []),
        position: index + 1,
        managed: false,
        botId: undefined,
      })),
    ];
    const botRole: EmulatorRole = {
      id: this.ids.next(),
      name: this.bot.username,
      permissions: resolvePermissions(input.botPermissions ?? DEFAULT_BOT_PERMISSIONS),
      position: roles.length,
      managed: true,
      botId: this.bot.id,
    };
    roles.push(botRole);
    const roleId = (reference: string): string => {
      const role = roles.find((r) => r.id === reference || r.name === reference);
      if (!role) throw new EmulatorUsageError(`guild "${input.name}": unknown role "${reference}"`);
      return role.id;
    };
    const joinedAt = this.timestamp();
    const members = new Map<string, EmulatorMember>();
    const memberInputs: readonly EmulatorMemberInput[] =
      input.members ?? this.users.map((user) => ({ user: user.id }));
    for (const memberInput of memberInputs) {
      const userId = this.user(memberInput.user).id;
      members.set(userId, {
        userId,
        roles: (memberInput.roles ?? []).map(roleId),
        nick: memberInput.nick ?? null,
        joinedAt,
      });
    }
    if (!members.has(ownerId)) members.set(ownerId, { userId: ownerId, roles: [], nick: null, joinedAt });
    members.set(this.bot.id, { userId: this.bot.id, roles: [botRole.id], nick: null, joinedAt });
    const channels = (input.channels ?? DEFAULT_CHANNELS).map((channel, position): EmulatorChannel => ({
      id: channel.id ?? this.ids.next(),
      type: ChannelType.GuildText,
      guildId: id,
      name: channel.name,
      nsfw: channel.nsfw ?? false,
      topic: channel.topic ?? null,
      position,
      botPermissions:
        channel.botPermissions === undefined ? undefined : resolvePermissions(channel.botPermissions),
      recipientId: undefined,
    }));
    for (const channel of channels) {
      if (this.#channels.has(channel.id))
        throw new EmulatorUsageError(`channel id ${channel.id} is used twice`);
      this.#channels.set(channel.id, channel);
    }
    this.#guilds.set(id, {
      id,
      name: input.name,
      ownerId,
      preferredLocale: input.preferredLocale ?? Locale.EnglishUS,
      joinedAt,
      roles,
      channels,
      members,
    });
  }
}

export function apiUser(user: EmulatorUser): APIUser {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.globalName,
    avatar: null,
    bot: user.bot,
    system: false,
    banner: null,
    accent_color: null,
    avatar_decoration_data: null,
    collectibles: null,
    primary_guild: null,
  };
}

/** APIRole as Discord sends it: still with `color`, which discord-api-types marks deprecated. */
type WireRole = Omit<APIRole, 'color'> & { color: number };

export function apiRole(role: EmulatorRole): WireRole {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions.toString(),
    managed: role.managed,
    mentionable: false,
    flags: bitfield(RoleFlags, 0),
    ...(role.botId === undefined ? {} : { tags: { bot_id: role.botId } }),
  };
}

export function apiMember(world: World, member: EmulatorMember): APIGuildMember {
  return {
    user: apiUser(world.user(member.userId)),
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: [...member.roles],
    joined_at: member.joinedAt,
    premium_since: null,
    deaf: false,
    mute: false,
    pending: false,
    flags: bitfield(GuildMemberFlags, 0),
    communication_disabled_until: null,
  };
}

export function apiGuildChannel(channel: EmulatorChannel, lastMessageId: string | null): APITextChannel {
  return {
    id: channel.id,
    type: ChannelType.GuildText,
    ...(channel.guildId === null ? {} : { guild_id: channel.guildId }),
    name: channel.name,
    position: channel.position,
    permission_overwrites: [],
    nsfw: channel.nsfw,
    topic: channel.topic,
    last_message_id: lastMessageId,
    rate_limit_per_user: 0,
    parent_id: null,
  };
}

export function apiDmChannel(
  world: World,
  channel: EmulatorChannel,
  lastMessageId: string | null,
): APIDMChannel {
  return {
    id: channel.id,
    type: ChannelType.DM,
    name: null,
    last_message_id: lastMessageId,
    recipients: channel.recipientId ? [apiUser(world.user(channel.recipientId))] : [],
  };
}

export function apiGuild(guild: EmulatorGuild): APIGuild {
  const systemChannel = guild.channels[0]?.id ?? null;
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: guild.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: GuildVerificationLevel.Low,
    default_message_notifications: GuildDefaultMessageNotifications.OnlyMentions,
    explicit_content_filter: GuildExplicitContentFilter.AllMembers,
    roles: guild.roles.map(apiRole),
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: GuildMFALevel.None,
    application_id: null,
    system_channel_id: systemChannel,
    system_channel_flags: bitfield(GuildSystemChannelFlags, 0),
    rules_channel_id: null,
    public_updates_channel_id: null,
    safety_alerts_channel_id: null,
    vanity_url_code: null,
    premium_tier: GuildPremiumTier.None,
    premium_subscription_count: 0,
    preferred_locale: guild.preferredLocale,
    max_members: 500_000,
    max_video_channel_users: 25,
    max_stage_video_channel_users: 50,
    nsfw_level: GuildNSFWLevel.Default,
    premium_progress_bar_enabled: false,
    hub_type: null,
    incidents_data: null,
    approximate_member_count: guild.members.size,
  };
}

/** The guilds a gateway shard serves. */
export function shardGuilds(world: World, [shardId, shardCount]: readonly [number, number]): EmulatorGuild[] {
  return world.guilds.filter((guild) => shardOf(guild.id, shardCount) === shardId);
}

/** GUILD_CREATE as sent after READY: the guild plus channels, the bot's member and counts. */
export function guildCreatePayload(
  world: World,
  guild: EmulatorGuild,
  lastMessageId: (channelId: string) => string | null,
): GatewayGuildCreateDispatchData {
  const botMember = guild.members.get(world.bot.id);
  return {
    ...apiGuild(guild),
    joined_at: guild.joinedAt,
    large: false,
    unavailable: false,
    member_count: guild.members.size,
    voice_states: [],
    // With only the Guilds intent Discord sends the bot's own member and no one else.
    members: botMember ? [apiMember(world, botMember)] : [],
    channels: guild.channels.map((channel) => {
      const { guild_id: _guildId, ...withoutGuildId } = apiGuildChannel(channel, lastMessageId(channel.id));
      return withoutGuildId;
    }),
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

/** The entry of `map` under `id`; a test naming one the world lacks is told which. */
function known<T>(map: ReadonlyMap<string, T>, id: string, what: string): T {
  const entry = map.get(id);
  if (entry === undefined) throw new EmulatorUsageError(`unknown ${what} ${id}`);
  return entry;
}
