/**
 * The REST routes of API v10 the emulator answers, as templates with handlers. Templates name
 * their parameters (`/channels/:channel/messages/:message`); recorded calls carry them.
 */
import {
  ApplicationFlags,
  ChannelType,
  PermissionFlagsBits,
  type APIApplication,
  type RESTGetAPIGatewayBotResult,
} from 'discord.js';
import type { CommandScope, CommandStore } from './commands.js';
import { DiscordHttpError } from './errors.js';
import type { Gateway } from './gateway.js';
import type { InteractionService } from './interactions.js';
import { replyTo, type MessageStore, type StoredMessage } from './messages.js';
import { isRecord, requireNonEmpty, validateMessagePayload, type UploadedFile } from './validation.js';
import {
  apiDmChannel,
  apiGuild,
  apiGuildChannel,
  apiMember,
  apiRole,
  apiUser,
  hasPermissions,
} from './world.js';
import type { EmulatorChannel, EmulatorGuild, World } from './world.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly uploads: readonly UploadedFile[];
}

export interface RestResponse {
  status: 200 | 201 | 204;
  body?: unknown;
}

export interface RouteDefinition {
  readonly method: HttpMethod;
  readonly template: string;
  /** 'bot': needs `Authorization: Bot <token>`; 'none': the token is in the path (webhooks). */
  readonly auth: 'bot' | 'none';
  readonly handle: (request: RestRequest) => RestResponse;
}

export interface RestContext {
  world: World;
  messages: MessageStore;
  commands: CommandStore;
  interactions: InteractionService;
  gateway: Gateway;
  applicationId: string;
  applicationName: string;
}

const ok = (body: unknown): RestResponse => ({ status: 200, body });
const noContent: RestResponse = { status: 204 };

export function restRoutes(context: RestContext): RouteDefinition[] {
  const { world, messages, commands, interactions, gateway, applicationId } = context;

  // `summary` is deprecated (always ""), so it is left out.
  const application = (): Omit<APIApplication, 'summary'> => ({
    id: applicationId,
    name: context.applicationName,
    icon: null,
    description: '',
    bot_public: true,
    bot_require_code_grant: false,
    bot: apiUser(world.bot),
    verify_key: '0'.repeat(64),
    team: null,
    flags: ApplicationFlags.GatewayMessageContentLimited,
    flags_new: String(ApplicationFlags.GatewayMessageContentLimited),
    approximate_guild_count: world.guilds.length,
  });

  const ownApplication = (request: RestRequest): void => {
    if (request.params.app !== applicationId) throw DiscordHttpError.missingAccess();
  };

  const guildScope = (request: RestRequest): CommandScope => {
    ownApplication(request);
    const guildId = request.params.guild ?? '';
    const guild = world.findGuild(guildId);
    // The bot must be in the guild (and installed with the applications.commands scope).
    if (!guild?.members.has(world.bot.id)) throw DiscordHttpError.missingAccess();
    return guildId;
  };

  const guildOf = (request: RestRequest): EmulatorGuild => {
    const guild = world.findGuild(request.params.guild ?? '');
    if (!guild?.members.has(world.bot.id)) throw DiscordHttpError.unknownGuild();
    return guild;
  };

  /** A channel the bot can see. */
  const visibleChannel = (request: RestRequest): EmulatorChannel => {
    const channel = world.findChannel(request.params.channel ?? '');
    if (!channel) throw DiscordHttpError.unknownChannel();
    if (!hasPermissions(world.botPermissionsIn(channel), PermissionFlagsBits.ViewChannel)) {
      throw DiscordHttpError.missingAccess();
    }
    return channel;
  };

  const channelMessage = (request: RestRequest, channel: EmulatorChannel): StoredMessage => {
    const message = messages.find(request.params.message ?? '');
    // Ephemeral messages exist only for their recipient, never through channel routes.
    if (message?.channelId !== channel.id || message.ephemeral) throw DiscordHttpError.unknownMessage();
    return message;
  };

  const renderChannel = (channel: EmulatorChannel) =>
    channel.type === ChannelType.DM
      ? apiDmChannel(world, channel, messages.lastMessageId(channel.id))
      : apiGuildChannel(channel, messages.lastMessageId(channel.id));

  const commandRoutes = (
    prefix: string,
    scope: (request: RestRequest) => CommandScope,
  ): RouteDefinition[] => [
    { method: 'GET', template: prefix, auth: 'bot', handle: (r) => ok(commands.list(scope(r))) },
    { method: 'PUT', template: prefix, auth: 'bot', handle: (r) => ok(commands.overwrite(scope(r), r.body)) },
    {
      method: 'POST',
      template: prefix,
      auth: 'bot',
      handle: (r) => {
        const { command, created } = commands.upsert(scope(r), r.body);
        return { status: created ? 201 : 200, body: command };
      },
    },
    {
      method: 'GET',
      template: `${prefix}/:command`,
      auth: 'bot',
      handle: (r) => ok(commands.get(scope(r), r.params.command ?? '')),
    },
    {
      method: 'DELETE',
      template: `${prefix}/:command`,
      auth: 'bot',
      handle: (r) => {
        commands.delete(scope(r), r.params.command ?? '');
        return noContent;
      },
    },
  ];

  const webhookMessageRoutes = (suffix: string): RouteDefinition[] => {
    const template = `/webhooks/:app/:token/messages/${suffix}`;
    const target = (r: RestRequest) => {
      const record = interactions.webhook(r.params.app ?? '', r.params.token ?? '');
      return interactions.webhookMessage(record, r.params.message ?? suffix);
    };
    return [
      { method: 'GET', template, auth: 'none', handle: (r) => ok(messages.render(target(r))) },
      {
        method: 'PATCH',
        template,
        auth: 'none',
        handle: (r) => {
          const message = target(r);
          interactions.editWebhookMessage(message, r.body, r.uploads);
          return ok(messages.render(message));
        },
      },
      {
        method: 'DELETE',
        template,
        auth: 'none',
        handle: (r) => {
          messages.delete(target(r));
          return noContent;
        },
      },
    ];
  };

  return [
    { method: 'GET', template: '/gateway', auth: 'none', handle: () => ok({ url: gateway.url }) },
    {
      method: 'GET',
      template: '/gateway/bot',
      auth: 'bot',
      handle: () =>
        ok({
          url: gateway.url,
          shards: 1,
          session_start_limit: {
            total: 1000,
            remaining: 1000 - gateway.identifyCount,
            reset_after: 86_400_000,
            max_concurrency: 1,
          },
        } satisfies RESTGetAPIGatewayBotResult),
    },
    {
      method: 'GET',
      template: '/users/@me',
      auth: 'bot',
      handle: () => ok({ ...apiUser(world.bot), verified: true, mfa_enabled: false }),
    },
    {
      method: 'GET',
      template: '/users/:user',
      auth: 'bot',
      handle: (r) => {
        const user = world.findUser(r.params.user ?? '');
        if (!user) throw DiscordHttpError.unknownUser();
        return ok(apiUser(user));
      },
    },
    {
      method: 'POST',
      template: '/users/@me/channels',
      auth: 'bot',
      handle: (r) => {
        const recipient =
          isRecord(r.body) && typeof r.body.recipient_id === 'string' ? r.body.recipient_id : '';
        const user = world.findUser(recipient);
        if (!user || user.bot) {
          throw DiscordHttpError.fieldError(['recipient_id'], 'USER_NOT_FOUND', 'Unknown user');
        }
        return ok(renderChannel(world.dmChannel(user.id)));
      },
    },
    { method: 'GET', template: '/applications/@me', auth: 'bot', handle: () => ok(application()) },
    ...commandRoutes('/applications/:app/commands', (r) => {
      ownApplication(r);
      return null;
    }),
    ...commandRoutes('/applications/:app/guilds/:guild/commands', guildScope),
    {
      method: 'POST',
      template: '/interactions/:interaction/:token/callback',
      auth: 'none',
      handle: (r) =>
        interactions.callback(
          r.params.interaction ?? '',
          r.params.token ?? '',
          r.body,
          r.uploads,
          r.query.get('with_response') === 'true',
        ),
    },
    ...webhookMessageRoutes('@original'),
    ...webhookMessageRoutes(':message'),
    {
      method: 'POST',
      template: '/webhooks/:app/:token',
      auth: 'none',
      handle: (r) => {
        const record = interactions.webhook(r.params.app ?? '', r.params.token ?? '');
        const message = interactions.followUp(record, r.body, r.uploads);
        return r.query.get('wait') === 'false' ? noContent : ok(messages.render(message));
      },
    },
    {
      method: 'GET',
      template: '/channels/:channel',
      auth: 'bot',
      handle: (r) => ok(renderChannel(visibleChannel(r))),
    },
    {
      method: 'GET',
      template: '/channels/:channel/messages',
      auth: 'bot',
      handle: (r) => {
        const channel = visibleChannel(r);
        if (!hasPermissions(world.botPermissionsIn(channel), PermissionFlagsBits.ReadMessageHistory))
          return ok([]);
        const limit = Math.min(100, Math.max(1, Number(r.query.get('limit') ?? 50) || 50));
        const before = r.query.get('before');
        const after = r.query.get('after');
        const visible = messages
          .inChannel(channel.id)
          .filter((m) => !m.ephemeral)
          .filter((m) => before === null || BigInt(m.id) < BigInt(before))
          .filter((m) => after === null || BigInt(m.id) > BigInt(after));
        const page = after === null ? visible.slice(-limit) : visible.slice(0, limit);
        return ok(page.reverse().map((m) => messages.render(m)));
      },
    },
    {
      method: 'POST',
      template: '/channels/:channel/messages',
      auth: 'bot',
      handle: (r) => {
        const channel = visibleChannel(r);
        const granted = world.botPermissionsIn(channel);
        const needed =
          PermissionFlagsBits.SendMessages | (r.uploads.length > 0 ? PermissionFlagsBits.AttachFiles : 0n);
        if (!hasPermissions(granted, needed)) throw DiscordHttpError.missingPermissions();
        const payload = validateMessagePayload(r.body, r.uploads);
        requireNonEmpty(payload, r.uploads);
        // Discord answers a repeated create with the message it already made, changing nothing.
        if (payload.enforceNonce === true && payload.nonce !== undefined) {
          const earlier = messages.recentWithNonce(world.bot.id, payload.nonce);
          if (earlier !== undefined) return ok(messages.render(earlier));
        }
        const referenced =
          payload.messageReference === undefined ? undefined : messages.find(payload.messageReference);
        if (payload.messageReference !== undefined && referenced?.channelId !== channel.id) {
          throw DiscordHttpError.fieldError(
            ['message_reference'],
            'MESSAGE_REFERENCE_UNKNOWN_MESSAGE',
            'Unknown message',
          );
        }
        const message = messages.create({
          channelId: channel.id,
          guildId: channel.guildId,
          kind: 'channel',
          payload,
          uploads: r.uploads,
          ...replyTo(referenced),
        });
        return ok(messages.render(message));
      },
    },
    {
      method: 'GET',
      template: '/channels/:channel/messages/:message',
      auth: 'bot',
      handle: (r) => ok(messages.render(channelMessage(r, visibleChannel(r)))),
    },
    {
      method: 'PATCH',
      template: '/channels/:channel/messages/:message',
      auth: 'bot',
      handle: (r) => {
        const message = channelMessage(r, visibleChannel(r));
        if (message.authorId !== world.bot.id) throw DiscordHttpError.cannotEditOthersMessage();
        messages.edit(message, validateMessagePayload(r.body, r.uploads), r.uploads);
        return ok(messages.render(message));
      },
    },
    {
      method: 'DELETE',
      template: '/channels/:channel/messages/:message',
      auth: 'bot',
      handle: (r) => {
        const channel = visibleChannel(r);
        const message = channelMessage(r, channel);
        const mayManage = hasPermissions(world.botPermissionsIn(channel), PermissionFlagsBits.ManageMessages);
        if (message.authorId !== world.bot.id && !mayManage) throw DiscordHttpError.missingPermissions();
        messages.delete(message);
        return noContent;
      },
    },
    { method: 'GET', template: '/guilds/:guild', auth: 'bot', handle: (r) => ok(apiGuild(guildOf(r))) },
    {
      method: 'GET',
      template: '/guilds/:guild/channels',
      auth: 'bot',
      handle: (r) => ok(guildOf(r).channels.map((c) => apiGuildChannel(c, messages.lastMessageId(c.id)))),
    },
    {
      method: 'GET',
      template: '/guilds/:guild/roles',
      auth: 'bot',
      handle: (r) => ok(guildOf(r).roles.map(apiRole)),
    },
    {
      method: 'GET',
      template: '/guilds/:guild/members/:user',
      auth: 'bot',
      handle: (r) => {
        const member = guildOf(r).members.get(r.params.user ?? '');
        if (!member) throw DiscordHttpError.unknownMember();
        return ok(apiMember(world, member));
      },
    },
  ];
}

export type RouteMatch =
  | { kind: 'route'; route: RouteDefinition; params: Record<string, string> }
  | { kind: 'method-not-allowed'; template: string }
  | { kind: 'none' };

/** Finds the route for a path; a literal segment (`@original`, `@me`) beats a parameter. */
export function matchRoute(
  routes: readonly RouteDefinition[],
  method: string,
  segments: readonly string[],
): RouteMatch {
  let best: { route: RouteDefinition; params: Record<string, string>; literals: number } | undefined;
  let otherMethod: string | undefined;
  for (const route of routes) {
    const parts = route.template.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    const matches = parts.every((part, index) => {
      const segment = segments[index] ?? '';
      if (part.startsWith(':')) {
        params[part.slice(1)] = segment;
        return segment.length > 0;
      }
      literals += 1;
      return part === segment;
    });
    if (!matches) continue;
    if (route.method !== method) {
      otherMethod ??= route.template;
      continue;
    }
    if (!best || literals > best.literals) best = { route, params, literals };
  }
  if (best) return { kind: 'route', route: best.route, params: best.params };
  if (otherMethod !== undefined) return { kind: 'method-not-allowed', template: otherMethod };
  return { kind: 'none' };
}
