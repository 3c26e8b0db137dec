/**
 * The WebSocket gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, dispatches with
 * sequence numbers, and RESUME replaying what a dropped session missed. Close codes follow
 * Discord's, so discord.js takes the same recovery path it would take live.
 */
import {
  GatewayCloseCodes,
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  type GatewayGuildCreateDispatchData,
  type GatewayReadyDispatchData,
} from 'discord.js';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { EmulatorClock } from './clock.js';
import { EmulatorUsageError } from './errors.js';
import { shardOf } from './snowflake.js';
import { isRecord } from './validation.js';
import { enumMember } from './wire.js';

export const GATEWAY_PATH = '/gateway';
export const RESUME_PATH = '/gateway/resume';

/** Intents Discord only grants when enabled on the Developer Portal. */
export const PRIVILEGED_INTENTS =
  GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;

export interface GatewayFrame {
  readonly direction: 'received' | 'sent';
  readonly connectionId: number;
  readonly op: GatewayOpcodes;
  /** The dispatch event name (op 0 only). */
  readonly t: GatewayDispatchEvents | null;
  readonly s: number | null;
  /** Tokens in IDENTIFY and RESUME are replaced by "[redacted]". */
  readonly d: unknown;
  readonly at: number;
}

export interface DropOptions {
  /** Keep the session so the client can RESUME (default true). */
  resumable?: boolean;
  /** Close code (default 4000, "unknown error", which discord.js answers by resuming). */
  closeCode?: number;
  /** false: cut the TCP connection without a close frame (the client sees 1006). */
  closeFrame?: boolean;
}

export interface GatewayOptions {
  token: string;
  heartbeatIntervalMs: number;
  /** Intents beyond the non-privileged ones the application may request. */
  allowedPrivilegedIntents: number;
  clock: EmulatorClock;
  /** e.g. ws://127.0.0.1:PORT */
  baseUrl: () => string;
  ready: (session: {
    sessionId: string;
    resumeGatewayUrl: string;
    shard: [number, number];
  }) => GatewayReadyDispatchData;
  guildCreates: (shard: [number, number]) => GatewayGuildCreateDispatchData[];
  onChange: () => void;
}

interface StoredEvent {
  s: number;
  t: GatewayDispatchEvents;
  d: unknown;
}

interface OutgoingPayload {
  op: GatewayOpcodes;
  d: unknown;
  s: number | null;
  t: GatewayDispatchEvents | null;
}

interface Session {
  readonly id: string;
  readonly shard: [number, number];
  readonly intents: number;
  sequence: number;
  /** Every dispatch of the session, replayed from a client's last seen sequence on RESUME. */
  readonly events: StoredEvent[];
  connection: Connection | undefined;
}

interface Connection {
  readonly id: number;
  readonly socket: WebSocket;
  readonly path: string;
  session: Session | undefined;
  closed: Promise<void>;
}

export interface GatewayConnectionInfo {
  readonly id: number;
  /** /gateway for a fresh connection, /gateway/resume when the client used resume_gateway_url. */
  readonly path: string;
  readonly open: boolean;
}

export class Gateway {
  readonly frames: GatewayFrame[] = [];
  readonly #server = new WebSocketServer({ noServer: true });
  readonly #sessions = new Map<string, Session>();
  readonly #connections: Connection[] = [];
  #nextConnectionId = 1;
  #identifies = 0;
  /** Which session of several gets each dispatch first, in turn (Discord favours none of them). */
  #firstSession = 0;

  constructor(private readonly options: GatewayOptions) {}

  get url(): string {
    return `${this.options.baseUrl()}${GATEWAY_PATH}`;
  }

  get connections(): GatewayConnectionInfo[] {
    return this.#connections.map((c) => ({
      id: c.id,
      path: c.path,
      open: c.socket.readyState === c.socket.OPEN,
    }));
  }

  /** Accepted IDENTIFYs (fresh sessions), as counted by session_start_limit. */
  get identifyCount(): number {
    return this.#identifies;
  }

  /** Routes an HTTP upgrade on the gateway paths to the WebSocket server. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(request.url ?? '/', 'http://emulator');
    if (url.pathname !== GATEWAY_PATH && url.pathname !== RESUME_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    this.#server.handleUpgrade(request, socket, head, (ws) => {
      this.#accept(ws, url);
    });
  }

  /**
   * Sends a dispatch to every session of the shard that owns the guild (shard 0 for DMs), each of
   * them first in turn; resolves once written to the sockets. A session waiting for RESUME keeps
   * it for the replay. With `lead`, the other sessions get it once `lead` settles: replicas of a bot
   * see an event at different times, and the one that sees it first answers first, whatever the
   * order this process happens to read their sockets in.
   */
  async dispatch(
    t: GatewayDispatchEvents,
    d: unknown,
    guildId: string | null,
    lead?: () => Promise<void>,
  ): Promise<void> {
    const sessions = [...this.#sessions.values()].filter((session) =>
      guildId === null ? session.shard[0] === 0 : shardOf(guildId, session.shard[1]) === session.shard[0],
    );
    if (sessions.length === 0) {
      throw new EmulatorUsageError(`no bot session to dispatch ${t} to: log the client in first`);
    }
    const first = this.#firstSession++ % sessions.length;
    const [leader, ...others] = [...sessions.slice(first), ...sessions.slice(0, first)];
    if (leader === undefined) return;
    if (lead === undefined || others.length === 0) {
      await Promise.all([leader, ...others].map((session) => this.#dispatchTo(session, t, d)));
      return;
    }
    await this.#dispatchTo(leader, t, d);
    await lead();
    await Promise.all(others.map((session) => this.#dispatchTo(session, t, d)));
  }

  /** Cuts the bot's connections; resumable sessions keep collecting dispatches until RESUME. */
  async drop(options: DropOptions = {}): Promise<void> {
    const { resumable = true, closeCode = 4000, closeFrame = true } = options;
    const live = this.#connections.filter((c) => c.socket.readyState === c.socket.OPEN);
    for (const connection of live) {
      if (connection.session) {
        if (!resumable) this.#sessions.delete(connection.session.id);
        connection.session.connection = undefined;
        connection.session = undefined;
      }
      if (closeFrame) connection.socket.close(closeCode, 'emulator dropped the connection');
      else connection.socket.terminate();
    }
    await Promise.all(live.map((c) => c.closed));
    this.options.onChange();
  }

  /** Sends op 7 RECONNECT: the client closes and resumes. */
  requestReconnect(): void {
    for (const connection of this.#connections) {
      if (connection.session && connection.socket.readyState === connection.socket.OPEN) {
        void this.#send(connection, { op: GatewayOpcodes.Reconnect, d: null, s: null, t: null });
      }
    }
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) connection.socket.terminate();
    await Promise.all(this.#connections.map((c) => c.closed));
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  #accept(socket: WebSocket, url: URL): void {
    const connection: Connection = {
      id: this.#nextConnectionId++,
      socket,
      path: url.pathname,
      session: undefined,
      closed: new Promise((resolve) => {
        socket.once('close', () => {
          resolve();
        });
      }),
    };
    this.#connections.push(connection);
    socket.on('close', (code) => {
      this.#onClose(connection, code);
    });
    socket.on('message', (data, isBinary) => {
      this.#onMessage(connection, data, isBinary);
    });
    socket.on('error', () => {
      // A reset from the client surfaces here; the close handler does the bookkeeping.
    });
    if (url.searchParams.get('v') !== '10') {
      socket.close(GatewayCloseCodes.InvalidAPIVersion, 'Invalid API version');
      return;
    }
    if ((url.searchParams.get('encoding') ?? 'json') !== 'json') {
      socket.close(GatewayCloseCodes.DecodeError, 'Only the json encoding is emulated');
      return;
    }
    void this.#send(connection, {
      op: GatewayOpcodes.Hello,
      d: { heartbeat_interval: this.options.heartbeatIntervalMs, _trace: ['["discord-emulator",{}]'] },
      s: null,
      t: null,
    });
    this.options.onChange();
  }

  #onClose(connection: Connection, code: number): void {
    const session = connection.session;
    if (session) {
      session.connection = undefined;
      // A client that closes normally ends its session; any other close leaves it resumable.
      if (code === 1000 || code === 1001) this.#sessions.delete(session.id);
    }
    this.options.onChange();
  }

  #onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    let payload: unknown;
    try {
      payload = isBinary ? undefined : JSON.parse(rawText(data));
    } catch {
      payload = undefined;
    }
    if (!isRecord(payload)) {
      connection.socket.close(GatewayCloseCodes.DecodeError, 'Decode error');
      return;
    }
    const op = enumMember(GatewayOpcodes, payload.op);
    if (op === undefined) {
      connection.socket.close(GatewayCloseCodes.UnknownOpcode, 'Unknown opcode.');
      return;
    }
    this.#record('received', connection, { op, d: redactToken(payload.d), s: null, t: null });
    switch (op) {
      case GatewayOpcodes.Heartbeat:
        void this.#send(connection, { op: GatewayOpcodes.HeartbeatAck, d: null, s: null, t: null });
        return;
      case GatewayOpcodes.Identify:
        this.#identify(connection, payload.d);
        return;
      case GatewayOpcodes.Resume:
        this.#resume(connection, payload.d);
        return;
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.VoiceStateUpdate:
      case GatewayOpcodes.RequestGuildMembers:
      case GatewayOpcodes.RequestSoundboardSounds:
        if (!connection.session)
          connection.socket.close(GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
        return;
      default:
        connection.socket.close(GatewayCloseCodes.UnknownOpcode, 'Unknown opcode.');
    }
  }

  /** The checks Identify and Resume share: closes the connection and returns false when one fails. */
  #authenticates(connection: Connection, d: unknown): d is Record<string, unknown> {
    if (connection.session) {
      connection.socket.close(GatewayCloseCodes.AlreadyAuthenticated, 'Already authenticated.');
      return false;
    }
    if (!isRecord(d) || d.token !== this.options.token) {
      connection.socket.close(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
      return false;
    }
    return true;
  }

  #identify(connection: Connection, d: unknown): void {
    if (!this.#authenticates(connection, d)) return;
    const intents = d.intents;
    if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0) {
      connection.socket.close(GatewayCloseCodes.InvalidIntents, 'Invalid intent(s).');
      return;
    }
    if ((intents & PRIVILEGED_INTENTS & ~this.options.allowedPrivilegedIntents) !== 0) {
      connection.socket.close(GatewayCloseCodes.DisallowedIntents, 'Disallowed intent(s).');
      return;
    }
    const shard = parseShard(d.shard);
    if (!shard) {
      connection.socket.close(GatewayCloseCodes.InvalidShard, 'Invalid shard.');
      return;
    }
    const session: Session = {
      id: randomBytes(16).toString('hex'),
      shard,
      intents,
      sequence: 0,
      events: [],
      connection,
    };
    this.#sessions.set(session.id, session);
    this.#identifies += 1;
    connection.session = session;
    const resumeGatewayUrl = `${this.options.baseUrl()}${RESUME_PATH}`;
    void this.#dispatchTo(
      session,
      GatewayDispatchEvents.Ready,
      this.options.ready({ sessionId: session.id, resumeGatewayUrl, shard }),
    );
    for (const guild of this.options.guildCreates(shard))
      void this.#dispatchTo(session, GatewayDispatchEvents.GuildCreate, guild);
  }

  #resume(connection: Connection, d: unknown): void {
    if (!this.#authenticates(connection, d)) return;
    const session = typeof d.session_id === 'string' ? this.#sessions.get(d.session_id) : undefined;
    const seq = typeof d.seq === 'number' ? d.seq : -1;
    if (!session || seq > session.sequence) {
      void this.#send(connection, { op: GatewayOpcodes.InvalidSession, d: false, s: null, t: null });
      return;
    }
    // Discord closes a session's older connection when another one resumes it.
    session.connection?.socket.terminate();
    session.connection = connection;
    connection.session = session;
    for (const event of session.events.filter((e) => e.s > seq)) {
      void this.#send(connection, { op: GatewayOpcodes.Dispatch, d: event.d, s: event.s, t: event.t });
    }
    void this.#dispatchTo(session, GatewayDispatchEvents.Resumed, { _trace: ['["discord-emulator",{}]'] });
  }

  #dispatchTo(session: Session, t: GatewayDispatchEvents, d: unknown): Promise<void> {
    session.sequence += 1;
    const event = { s: session.sequence, t, d };
    session.events.push(event);
    if (!session.connection) return Promise.resolve();
    return this.#send(session.connection, { op: GatewayOpcodes.Dispatch, d, s: event.s, t });
  }

  /** Resolves once the frame is handed to the socket (or at once when the socket is gone). */
  #send(connection: Connection, payload: OutgoingPayload): Promise<void> {
    if (connection.socket.readyState !== connection.socket.OPEN) return Promise.resolve();
    this.#record('sent', connection, payload);
    return new Promise((resolve) => {
      connection.socket.send(JSON.stringify(payload), () => {
        resolve();
      });
    });
  }

  #record(direction: GatewayFrame['direction'], connection: Connection, payload: OutgoingPayload): void {
    this.frames.push({ direction, connectionId: connection.id, ...payload, at: this.options.clock.now() });
    this.options.onChange();
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (data instanceof ArrayBuffer ? Buffer.from(data) : data).toString('utf8');
}

function redactToken(d: unknown): unknown {
  return isRecord(d) && 'token' in d ? { ...d, token: '[redacted]' } : d;
}

function parseShard(value: unknown): [number, number] | undefined {
  if (value === undefined) return [0, 1];
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [id, count] = value as unknown[];
  if (
    typeof id !== 'number' ||
    typeof count !== 'number' ||
    !Number.isInteger(id) ||
    count < 1 ||
    id < 0 ||
    id >= count
  ) {
    return undefined;
  }
  return [id, count];
}
