/**
 * The HTTP side: reads and decodes requests (JSON or multipart with payload_json and files[n]),
 * applies injected faults and bot-token auth, runs the route, records the call, and writes the
 * answer the way Discord does (JSON errors, 204 without a content type).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmulatorClock } from './clock.js';
import { DiscordHttpError } from './errors.js';
import { faultResponse, type FaultInjector } from './faults.js';
import type { EmulatorAttachment } from './messages.js';
import { matchRoute, type RouteDefinition } from './rest.js';
import type { UploadedFile } from './validation.js';

export const API_PREFIX = '/api/v10';
export const ATTACHMENT_ROUTE = 'GET /attachments/:channel/:attachment/:filename';

export interface RecordedFile {
  /** The form field, e.g. files[0]. */
  readonly field: string;
  readonly name: string;
  readonly contentType: string | undefined;
  readonly data: Buffer;
}

export interface RecordedCall {
  readonly method: string;
  /** 'PATCH /webhooks/:app/:token/messages/@original'; 'UNKNOWN' when no route matched. */
  readonly route: string;
  /** The path under /api/v10, with `%40original` decoded to `@original`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-case names; Authorization is redacted. */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body, or the parsed payload_json of a multipart body. */
  readonly body: unknown;
  readonly files: readonly RecordedFile[];
  readonly status: number;
  /** What the emulator answered (JSON), undefined for 204 and binary answers. */
  readonly response: unknown;
  /** True when an injected fault hit this call (an error answer, a delay, or both). */
  readonly fault: boolean;
  /** By the emulator's clock. */
  readonly at: number;
}

export interface HttpServerOptions {
  routes: readonly RouteDefinition[];
  botToken: string;
  maxRequestBytes: number;
  faults: FaultInjector;
  clock: EmulatorClock;
  attachment: (channelId: string, attachmentId: string) => EmulatorAttachment | undefined;
  upgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  record: (call: RecordedCall) => void;
  /** An exception inside the emulator (a bug), answered with 500. */
  internalError: (error: unknown) => void;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
  binary?: { data: Buffer; contentType: string };
}

interface DecodedBody {
  body: unknown;
  uploads: UploadedFile[];
}

export class EmulatorHttpServer {
  readonly #server: Server;

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  static async start(options: HttpServerOptions, host: string, port: number): Promise<EmulatorHttpServer> {
    const server = createServer((request, response) => {
      void handle(options, request, response);
    });
    server.on('upgrade', options.upgrade);
    server.listen(port, host);
    await once(server, 'listening');
    return new EmulatorHttpServer(server, (server.address() as AddressInfo).port);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    // Clients (undici) keep connections alive; cut them so close() does not wait on them.
    this.#server.closeAllConnections();
    await closed;
  }
}

async function handle(options: HttpServerOptions, request: IncomingMessage, response: ServerResponse) {
  const method = request.method ?? 'GET';
  const url = new URL(request.url ?? '/', 'http://emulator');
  const headers = recordedHeaders(request);
  const query = Object.fromEntries(url.searchParams);
  const base = { method, query, headers, at: options.clock.now() };
  // What no API route handles is recorded without a body or files, then answered.
  const answerUnrouted = (route: string, path: string, answer: Answer): void => {
    options.record({
      ...base,
      route,
      path,
      body: undefined,
      files: [],
      status: answer.status,
      response: answer.json,
      fault: false,
    });
    write(response, answer);
  };
  try {
    if (url.pathname.startsWith('/attachments/')) {
      answerUnrouted(ATTACHMENT_ROUTE, url.pathname, serveAttachment(options, url.pathname));
      return;
    }
    const apiPath = url.pathname.startsWith(`${API_PREFIX}/`)
      ? url.pathname.slice(API_PREFIX.length)
      : undefined;
    const segments = apiPath?.split('/').slice(1).map(decodeSegment) ?? [];
    const path = `/${segments.join('/')}`;
    const match =
      apiPath === undefined ? { kind: 'none' as const } : matchRoute(options.routes, method, segments);
    const raw = await readBody(request, options.maxRequestBytes);
    if (match.kind !== 'route') {
      const error = match.kind === 'none' ? DiscordHttpError.notFound() : DiscordHttpError.methodNotAllowed();
      answerUnrouted('UNKNOWN', apiPath ?? url.pathname, errorAnswer(error));
      return;
    }
    const route = `${method} ${match.route.template}`;
    let decoded: DecodedBody = { body: undefined, uploads: [] };
    let answer: Answer;
    let fault = false;
    try {
      if (raw === undefined) throw DiscordHttpError.entityTooLarge();
      decoded = decodeBody(request.headers['content-type'], raw);
      const injected = options.faults.take({ method, route, path });
      fault = injected !== undefined;
      if (injected?.spec.delayMs !== undefined) await sleep(injected.spec.delayMs);
      const faultStatus = injected?.spec.status;
      if (injected && faultStatus !== undefined) {
        const faulted = faultResponse(
          faultStatus,
          injected.spec,
          { method, route, path },
          options.clock.now(),
        );
        answer = { status: faulted.status, headers: faulted.headers, json: faulted.body };
      } else {
        if (match.route.auth === 'bot' && request.headers.authorization !== `Bot ${options.botToken}`) {
          throw DiscordHttpError.unauthorized();
        }
        const result = match.route.handle({
          params: match.params,
          query: url.searchParams,
          body: decoded.body,
          uploads: decoded.uploads,
        });
        answer = { status: result.status, json: result.body };
      }
    } catch (error) {
      if (!(error instanceof DiscordHttpError)) throw error;
      answer = errorAnswer(error);
    }
    options.record({
      ...base,
      route,
      path,
      body: decoded.body,
      files: decoded.uploads.map((u) => ({
        field: u.field,
        name: u.filename,
        contentType: u.contentType,
        data: u.data,
      })),
      status: answer.status,
      response: answer.json,
      fault,
    });
    write(response, answer);
  } catch (error) {
    options.internalError(error);
    write(response, { status: 500, json: { message: '500: Internal Server Error', code: 0 } });
  }
}

function serveAttachment(options: HttpServerOptions, pathname: string): Answer {
  const [, , channelId = '', attachmentId = ''] = pathname.split('/');
  const attachment = options.attachment(channelId, attachmentId);
  if (!attachment) return errorAnswer(DiscordHttpError.notFound());
  return {
    status: 200,
    binary: { data: attachment.data, contentType: attachment.contentType ?? 'application/octet-stream' },
  };
}

function errorAnswer(error: DiscordHttpError): Answer {
  return { status: error.status, json: error.body };
}

function write(response: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload: Buffer | undefined;
  if (answer.binary) {
    headers['content-type'] = answer.binary.contentType;
    payload = answer.binary.data;
  } else if (answer.status !== 204 && answer.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = Buffer.from(JSON.stringify(answer.json));
  }
  // A 204 carries no content type: discord.js would try to parse an empty JSON body.
  if (payload) headers['content-length'] = String(payload.length);
  response.writeHead(answer.status, headers);
  response.end(payload);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function recordedHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (headers.authorization !== undefined) {
    const scheme = /^(Bot|Bearer)\s/i.exec(headers.authorization)?.[1];
    headers.authorization = scheme ? `${scheme} [redacted]` : '[redacted]';
  }
  return headers;
}

/** The whole body, or undefined when it is larger than Discord accepts (the rest is drained). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

function decodeBody(contentType: string | undefined, raw: Buffer): DecodedBody {
  if (raw.length === 0) return { body: undefined, uploads: [] };
  if (contentType?.startsWith('multipart/form-data')) return decodeMultipart(contentType, raw);
  return { body: parseJson(raw.toString('utf8')), uploads: [] };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw DiscordHttpError.invalidJson();
  }
}

function decodeMultipart(contentType: string, raw: Buffer): DecodedBody {
  let body: unknown;
  const fields: Record<string, string> = {};
  const uploads: UploadedFile[] = [];
  for (const part of multipartParts(contentType, raw)) {
    if (part.filename === undefined) {
      if (part.name === 'payload_json') body = parseJson(part.data.toString('utf8'));
      else fields[part.name] = part.data.toString('utf8');
    } else {
      uploads.push({
        field: part.name,
        filename: part.filename,
        contentType: part.contentType,
        data: part.data,
      });
    }
  }
  // Without payload_json, Discord reads the JSON fields from the form itself.
  return { body: body ?? (Object.keys(fields).length > 0 ? fields : undefined), uploads };
}

interface MultipartPart {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

/** Splits a multipart/form-data body (RFC 7578) into its parts; 400 when it is malformed. */
function multipartParts(contentType: string, raw: Buffer): MultipartPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const delimiter = boundary?.[1] ?? boundary?.[2];
  if (delimiter === undefined) throw DiscordHttpError.invalidJson();
  const opening = Buffer.from(`--${delimiter}`);
  const separator = Buffer.from(`\r\n--${delimiter}`);
  let position = raw.indexOf(opening);
  if (position < 0) throw DiscordHttpError.invalidJson();
  position += opening.length;
  const parts: MultipartPart[] = [];
  while (raw.subarray(position, position + 2).toString('latin1') !== '--') {
    const start = position + 2;
    const end = raw.indexOf(separator, start);
    if (end < 0) throw DiscordHttpError.invalidJson();
    parts.push(multipartPart(raw.subarray(start, end)));
    position = end + separator.length;
  }
  return parts;
}

function multipartPart(part: Buffer): MultipartPart {
  const headerEnd = part.indexOf('\r\n\r\n');
  if (headerEnd < 0) throw DiscordHttpError.invalidJson();
  const headers = part.subarray(0, headerEnd).toString('utf8');
  const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
  const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
  if (name === undefined) throw DiscordHttpError.invalidJson();
  const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
  return {
    name: unescapeFormName(name),
    filename: filename === undefined ? undefined : unescapeFormName(filename),
    contentType: /^content-type:\s*(.+?)\s*$/im.exec(headers)?.[1],
    data: part.subarray(headerEnd + 4),
  };
}

/** Form encoders escape quotes and line breaks in names as %22, %0A and %0D. */
function unescapeFormName(value: string): string {
  return value.replaceAll('%22', '"').replaceAll('%0A', '\n').replaceAll('%0D', '\r');
}
