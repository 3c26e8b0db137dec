/**
 * A local Discord API v10 (REST + gateway) for end-to-end tests of the real discord.js client.
 * Start it, point the client at `apiUrl`, log in with `botToken`, then act as users
 * (`sendCommand`, `clickButton`...) and assert on what the bot did (`calls`, `messages`).
 */
import {
  ApplicationFlags,
  GatewayDispatchEvents,
  type APIApplicationCommand,
  type APIMessage,
} from 'discord.js';
import { randomBytes } from 'node:crypto';
import { systemClock, type EmulatorClock } from './clock.js';
import { CommandStore } from './commands.js';
import { EmulatorUsageError } from './errors.js';
import { FaultInjector, routeMatches, type FaultHandle, type FaultSpec } from './faults.js';
import { Gateway, type DropOptions, type GatewayConnectionInfo, type GatewayFrame } from './gateway.js';
import { EmulatorHttpServer, type RecordedCall } from './http.js';
import {
  EmulatorInteraction,
  InteractionService,
  type ChooseFromSelectInput,
  type InteractionRecord,
  type SendAutocompleteInput,
  type SendCommandInput,
  type SendMessageCommandInput,
  type SubmitModalInput,
  type UseComponentInput,
} from './interactions.js';
import { MessageStore, type EmulatorMessage } from './messages.js';
import { restRoutes } from './rest.js';
import { SnowflakeGenerator } from './snowflake.js';
import { postUserMessage, type PostUserMessageInput } from './user-messages.js';
import { ChangeNotifier } from './waiting.js';
import {
  apiGuildChannel,
  apiUser,
  guildCreatePayload,
  shardGuilds,
  World,
  type EmulatorChannel,
  type EmulatorGuild,
  type EmulatorGuildInput,
  type EmulatorUser,
  type EmulatorUserInput,
} from './world.js';

/** How long the replica that gets an interaction first has before the others get it too. */
const INTERACTION_LEAD_MS = 250;

export interface DiscordEmulatorOptions {
  /** Default: a random token in Discord's format (base64 of the bot's id, then two random parts). */
  botToken?: string;
  /** Default: a fresh snowflake. The bot user has the same id, as for applications made today. */
  applicationId?: string;
  /** The bot user's name and its application's (default "sdbot"). */
  botUsername?: string;
  /** Default: alice and bob. */
  users?: readonly EmulatorUserInput[];
  /** Default: one guild with #general and an age-restricted #nsfw; all users are members. */
  guilds?: readonly EmulatorGuildInput[];
  /** Time for Discord's deadlines, timestamps and ids (default: the system clock). */
  clock?: EmulatorClock;
  /** Sent in HELLO (default 1000 ms; Discord sends ~41 s). */
  heartbeatIntervalMs?: number;
  /** Time to answer an interaction (default 3000 ms). */
  interactionAckTimeoutMs?: number;
  /** Lifetime of an interaction token (default 15 min). */
  interactionTokenLifetimeMs?: number;
  /** Largest file per attachment (default 10 MiB, Discord's limit for bots). */
  attachmentSizeLimit?: number;
  /** Largest request body (default 25 MiB). */
  maxRequestBytes?: number;
  /** Privileged intents enabled for the application (GatewayIntentBits; default none). */
  privilegedIntents?: number;
  host?: string;
  /** Default 0: a free port. */
  port?: number;
}

export type CallPredicate = string | ((call: RecordedCall) => boolean);

export class DiscordEmulator {
  readonly botToken: string;
  readonly applicationId: string;
  readonly clock: EmulatorClock;
  readonly #world: World;
  readonly #notifier = new ChangeNotifier();
  readonly #faults = new FaultInjector();
  readonly #calls: RecordedCall[] = [];
  readonly #errors: unknown[] = [];
  readonly #messages: MessageStore;
  readonly #commands: CommandStore;
  readonly #interactions: InteractionService;
  readonly #gateway: Gateway;
  readonly #handles = new Map<string, EmulatorInteraction>();
  readonly #host: string;
  readonly #botUsername: string;
  readonly #maxRequestBytes: number;
  #http: EmulatorHttpServer | undefined;

  private constructor(options: DiscordEmulatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.#host = options.host ?? '127.0.0.1';
    const ids = new SnowflakeGenerator(this.clock);
    const onChange = () => {
      this.#notifier.notify();
    };
    this.applicationId = options.applicationId ?? ids.next();
    const botUsername = options.botUsername ?? 'sdbot';
    this.botToken = options.botToken ?? discordStyleToken(this.applicationId);
    const timestamp = () => new Date(this.clock.now()).toISOString();
    this.#world = new World(
      {
        bot: { id: this.applicationId, username: botUsername },
        ...(options.users ? { users: options.users } : {}),
        ...(options.guilds ? { guilds: options.guilds } : {}),
      },
      ids,
      timestamp,
    );
    const attachmentSizeLimit = options.attachmentSizeLimit ?? 10 * 1024 * 1024;
    this.#messages = new MessageStore({
      ids,
      clock: this.clock,
      world: this.#world,
      applicationId: this.applicationId,
      attachmentSizeLimit,
      baseUrl: () => this.baseUrl,
      onChange,
    });
    this.#commands = new CommandStore(this.applicationId, ids, onChange);
    this.#interactions = new InteractionService({
      world: this.#world,
      commands: this.#commands,
      messages: this.#messages,
      ids,
      clock: this.clock,
      applicationId: this.applicationId,
      attachmentSizeLimit,
      ackTimeoutMs: options.interactionAckTimeoutMs ?? 3000,
      tokenLifetimeMs: options.interactionTokenLifetimeMs ?? 15 * 60 * 1000,
      onChange,
    });
    this.#gateway = new Gateway({
      token: this.botToken,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      allowedPrivilegedIntents: options.privilegedIntents ?? 0,
      clock: this.clock,
      baseUrl: () => `ws://${this.#authority}`,
      ready: ({ sessionId, resumeGatewayUrl, shard }) => ({
        v: 10,
        user: { ...apiUser(this.#world.bot), verified: true, mfa_enabled: false },
        guilds: shardGuilds(this.#world, shard).map((guild) => ({ id: guild.id, unavailable: true })),
        session_id: sessionId,
        resume_gateway_url: resumeGatewayUrl,
        shard,
        application: {
          id: this.applicationId,
          flags: ApplicationFlags.GatewayMessageContentLimited,
          flags_new: String(ApplicationFlags.GatewayMessageContentLimited),
        },
      }),
      guildCreates: (shard) =>
        shardGuilds(this.#world, shard).map((guild) =>
          guildCreatePayload(this.#world, guild, (channelId) => this.#messages.lastMessageId(channelId)),
        ),
      onChange,
    });
    this.#maxRequestBytes = options.maxRequestBytes ?? 25 * 1024 * 1024;
    this.#botUsername = botUsername;
  }

  static async start(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
    const emulator = new DiscordEmulator(options);
    emulator.#http = await EmulatorHttpServer.start(
      {
        routes: restRoutes({
          world: emulator.#world,
          messages: emulator.#messages,
          commands: emulator.#commands,
          interactions: emulator.#interactions,
          gateway: emulator.#gateway,
          applicationId: emulator.applicationId,
          applicationName: emulator.#botUsername,
        }),
        botToken: emulator.botToken,
        maxRequestBytes: emulator.#maxRequestBytes,
        faults: emulator.#faults,
        clock: emulator.clock,
        attachment: (channelId, attachmentId) => emulator.#messages.attachment(channelId, attachmentId),
        upgrade: (request, socket, head) => {
          emulator.#gateway.handleUpgrade(request, socket, head);
        },
        record: (call) => {
          emulator.#calls.push(call);
          emulator.#notifier.notify();
        },
        internalError: (error) => {
          emulator.#errors.push(error);
          emulator.#notifier.notify();
        },
      },
      emulator.#host,
      options.port ?? 0,
    );
    return emulator;
  }

  get #authority(): string {
    if (!this.#http) throw new EmulatorUsageError('the emulator is not listening');
    return `${this.#host}:${this.#http.port}`;
  }

  /** http://127.0.0.1:PORT, the base of attachment URLs. */
  get baseUrl(): string {
    return `http://${this.#authority}`;
  }

  /** For `new Client({ rest: { api } })` or `new REST({ api })`. */
  get apiUrl(): string {
    return `${this.baseUrl}/api`;
  }

  get gatewayUrl(): string {
    return this.#gateway.url;
  }

  get botUser(): EmulatorUser {
    return this.#world.bot;
  }

  /** Users who can act (the bot and guild owners' accounts included only if listed). */
  get users(): EmulatorUser[] {
    return this.#world.users;
  }

  get guilds(): EmulatorGuild[] {
    return this.#world.guilds;
  }

  /** A guild channel by id or name (names are looked up in the given or the first guild). */
  channel(reference: string, guildId?: string): EmulatorChannel {
    const byId = this.#world.findChannel(reference);
    if (byId) return byId;
    const guild = guildId === undefined ? this.#world.guilds[0] : this.#world.guild(guildId);
    const byName = guild?.channels.find((channel) => channel.name === reference);
    if (!byName)
      throw new EmulatorUsageError(`no channel "${reference}" in guild ${guild?.name ?? '(none)'}`);
    return byName;
  }

  user(reference: string): EmulatorUser {
    return this.#world.user(reference);
  }

  /** The direct message channel between the bot and a user (id or username). */
  dmChannel(user: string): EmulatorChannel {
    return this.#world.dmChannel(this.#world.user(user).id);
  }

  /** Every REST call, in arrival order. */
  get calls(): readonly RecordedCall[] {
    return this.#calls;
  }

  /** Every gateway frame, both directions. */
  get gatewayFrames(): readonly GatewayFrame[] {
    return this.#gateway.frames;
  }

  get gatewayConnections(): GatewayConnectionInfo[] {
    return this.#gateway.connections;
  }

  /** Exceptions inside the emulator (answered with 500); a passing test expects none. */
  get errors(): readonly unknown[] {
    return this.#errors;
  }

  /** Every message the bot created, deleted ones included (see `deletedAt`). */
  get messages(): readonly EmulatorMessage[] {
    return this.#messages.all;
  }

  /** Messages currently in a channel, oldest first, ephemeral ones included (see `ephemeral`). */
  channelMessages(channelId: string): EmulatorMessage[] {
    return this.#messages.inChannel(channelId);
  }

  message(id: string): EmulatorMessage | undefined {
    return this.#messages.find(id);
  }

  /** The message object the API returns for this message. */
  renderMessage(message: EmulatorMessage): APIMessage {
    return this.#messages.render(message);
  }

  get interactions(): EmulatorInteraction[] {
    return this.#interactions.all.map((record) => this.#handle(record));
  }

  /** Registered commands: global (null, the default) or of a guild. */
  registeredCommands(guildId: string | null = null): APIApplicationCommand[] {
    return this.#commands.list(guildId);
  }

  /** Waits for a REST call (already recorded or future); a string matches a templated route. */
  waitForCall(predicate: CallPredicate, timeoutMs = 5000): Promise<RecordedCall> {
    const test = callTest(predicate);
    return this.#notifier.waitUntil(
      () => this.#calls.find(test),
      timeoutMs,
      () => this.#describeWait('a REST call', predicate),
    );
  }

  /** Waits until `count` calls match (e.g. three progress edits), and returns them. */
  waitForCalls(predicate: CallPredicate, count: number, timeoutMs = 5000): Promise<RecordedCall[]> {
    const test = callTest(predicate);
    const probe = () => {
      const matching = this.#calls.filter(test);
      return matching.length >= count ? matching : undefined;
    };
    return this.#notifier.waitUntil(probe, timeoutMs, () =>
      this.#describeWait(`${count} REST calls`, predicate),
    );
  }

  waitForGatewayFrame(predicate: (frame: GatewayFrame) => boolean, timeoutMs = 5000): Promise<GatewayFrame> {
    return this.#notifier.waitUntil(() => this.#gateway.frames.find(predicate), timeoutMs, 'a gateway frame');
  }

  /** Waits until the probe returns a value other than undefined, re-checking on every change. */
  waitUntil<T>(
    probe: () => T | undefined,
    timeoutMs = 5000,
    description: string | (() => string) = 'the emulator state',
  ): Promise<T> {
    return this.#notifier.waitUntil(probe, timeoutMs, description);
  }

  /** A user runs a slash command: INTERACTION_CREATE type 2 goes to the bot. */
  sendCommand(input: SendCommandInput): Promise<EmulatorInteraction> {
    return this.#dispatch(() => this.#interactions.command(input));
  }

  /** A user picks an app in a message's menu: INTERACTION_CREATE type 2, data.type 3 (MESSAGE). */
  sendMessageCommand(input: SendMessageCommandInput): Promise<EmulatorInteraction> {
    return this.#dispatch(() => this.#interactions.messageCommand(input));
  }

  /** A user posts a message (text, files) in a channel; its attachments are served like the bot's. */
  postUserMessage(input: PostUserMessageInput): EmulatorMessage {
    return postUserMessage(this.#world, this.#messages, input);
  }

  /** A user types in an autocomplete option: INTERACTION_CREATE type 4. */
  sendAutocomplete(input: SendAutocompleteInput): Promise<EmulatorInteraction> {
    return this.#dispatch(() => this.#interactions.command(input, input.focused));
  }

  /** A user clicks a button of a message the bot posted: INTERACTION_CREATE type 3. */
  clickButton(input: UseComponentInput): Promise<EmulatorInteraction> {
    return this.#dispatch(() => this.#interactions.component(input, undefined));
  }

  /** A user picks values in a select menu of a message the bot posted. */
  chooseFromSelect(input: ChooseFromSelectInput): Promise<EmulatorInteraction> {
    return this.#dispatch(() => this.#interactions.component(input, input.values));
  }

  /** A user submits a modal the bot opened: INTERACTION_CREATE type 5. */
  submitModal(input: SubmitModalInput): Promise<EmulatorInteraction> {
    return this.#dispatch(() => this.#interactions.modalSubmit(input));
  }

  /** Marks a channel (id or name) age-restricted or not and tells the bot (CHANNEL_UPDATE). */
  async setChannelNsfw(reference: string, nsfw: boolean): Promise<EmulatorChannel> {
    const channel = this.#world.setChannelNsfw(this.channel(reference).id, nsfw);
    await this.dispatch(
      GatewayDispatchEvents.ChannelUpdate,
      apiGuildChannel(channel, this.#messages.lastMessageId(channel.id)),
      channel.guildId,
    );
    return channel;
  }

  /** Sends any dispatch event to the bot (guildId picks the shard; null for shard 0). */
  dispatch(event: GatewayDispatchEvents, data: unknown, guildId: string | null = null): Promise<void> {
    return this.#gateway.dispatch(event, data, guildId);
  }

  injectFault(spec: FaultSpec): FaultHandle {
    return this.#faults.add(spec);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Later webhook calls with this interaction's token get 401 Invalid Webhook Token (50027). */
  expireInteractionToken(interaction: EmulatorInteraction | string): void {
    this.#interactions.revokeToken(typeof interaction === 'string' ? interaction : interaction.token);
  }

  /** Closes the bot's gateway connections (by default resumably, with close code 4000). */
  dropGateway(options?: DropOptions): Promise<void> {
    return this.#gateway.drop(options);
  }

  /** Sends op 7 RECONNECT to the bot. */
  requestReconnect(): void {
    this.#gateway.requestReconnect();
  }

  async close(): Promise<void> {
    this.#notifier.cancelAll('the Discord emulator was closed');
    await this.#gateway.close();
    await this.#http?.close();
  }

  #describeWait(what: string, predicate: CallPredicate): string {
    const recorded = this.#calls.map((c) => `${c.route} ${c.status}`).join(', ') || 'none';
    return `${what}${typeof predicate === 'string' ? ` ${predicate}` : ''} (recorded: ${recorded})`;
  }

  /** Builds the interaction (usage errors become rejections) and sends it to the bot. */
  async #dispatch(build: () => InteractionRecord): Promise<EmulatorInteraction> {
    const record = build();
    // Several replicas: the others get the interaction once the first has answered it (or after
    // INTERACTION_LEAD_MS), so which one handles it does not depend on this process's scheduling.
    const answered = () =>
      this.#notifier
        .waitUntil(() => (record.response === undefined ? undefined : true), INTERACTION_LEAD_MS, 'an answer')
        .then(
          () => undefined,
          () => undefined,
        );
    await this.#gateway.dispatch(
      GatewayDispatchEvents.InteractionCreate,
      record.payload,
      record.guildId,
      answered,
    );
    return this.#handle(record);
  }

  #handle(record: InteractionRecord): EmulatorInteraction {
    let handle = this.#handles.get(record.id);
    if (!handle) {
      handle = new EmulatorInteraction(record, {
        messages: this.#messages,
        waitUntil: (probe, timeoutMs, description) => this.#notifier.waitUntil(probe, timeoutMs, description),
      });
      this.#handles.set(record.id, handle);
    }
    return handle;
  }
}

function callTest(predicate: CallPredicate): (call: RecordedCall) => boolean {
  return typeof predicate === 'string' ? (call) => routeMatches(predicate, call) : predicate;
}

/** Discord bot tokens: base64 of the bot user's id, a timestamp part and an HMAC part. */
function discordStyleToken(botUserId: string): string {
  const id = Buffer.from(botUserId).toString('base64url');
  return `${id}.${randomBytes(4).toString('base64url')}.${randomBytes(27).toString('base64url')}`;
}

export function startDiscordEmulator(options?: DiscordEmulatorOptions): Promise<DiscordEmulator> {
  return DiscordEmulator.start(options);
}
