/**
 * pino logger factory. Secrets never reach a log line: values under secret-looking keys are
 * replaced at any depth, and tokens embedded in strings (webhook URLs, nats://user:pass@ URLs,
 * Authorization headers) are masked, including inside error messages and stacks.
 */
import { pino, type DestinationStream, type LoggerOptions } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { Logger } from './log-events.js';

export type { Logger } from './log-events.js';

export const REDACTED = '[REDACTED]';

const SECRET_KEY =
  /token|password|passwd|secret|authorization|cookie|credential|creds|api[-_]?key|seed_?phrase|nkey|^(pass|pwd|pw)$/i;
/** Keys that look secret but are not (counts of tokens, truncation notices). */
const NOT_SECRET_KEY =
  /^(truncatedTokens|droppedTokens|tokenCount|tokens|untruncated_length|interactionTokenExpiresAt)$/;

const SECRET_IN_TEXT: readonly [RegExp, string][] = [
  // Interaction and webhook tokens travel in URL paths.
  [/(\/(?:webhooks|interactions)\/\d+\/)[^/?\s"']+/g, `$1${REDACTED}`],
  // Credentials in URLs (nats://user:pass@host, https://user:pass@host, nats://token@host).
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s"']+@/gi, `$1${REDACTED}@`],
  // Secrets in query strings (?token=..., &access_token=..., &sig=...).
  [
    /([?&](?:[a-z_]*token|key|api[-_]?key|password|passwd|pass|secret|sig|signature|auth)=)[^&#\s"']+/gi,
    `$1${REDACTED}`,
  ],
  [/\b(Bot|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  // Discord bot tokens: base64 id, timestamp, HMAC.
  [/\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}\b/g, REDACTED],
  [/\bhf_[A-Za-z0-9]{20,}\b/g, REDACTED],
];

/** Masks secrets that appear inside free text. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_IN_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/** Deep copy with secret-looking keys replaced and secrets inside strings masked. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const shown: Record<string, unknown> = {
      type: value.name,
      message: redactText(value.message),
      stack: value.stack === undefined ? undefined : redactText(value.stack),
    };
    for (const [key, inner] of Object.entries(value)) shown[key] = redactEntry(key, inner, depth);
    if (value.cause !== undefined) shown.cause = redactValue(value.cause, depth + 1);
    return shown;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = redactEntry(key, inner, depth);
  return out;
}

function redactEntry(key: string, value: unknown, depth: number): unknown {
  if (SECRET_KEY.test(key) && !NOT_SECRET_KEY.test(key) && value !== undefined && value !== null) {
    return typeof value === 'object' && !Array.isArray(value) ? redactValue(value, depth + 1) : REDACTED;
  }
  return redactValue(value, depth + 1);
}

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `auto`: one-line human logs on a terminal, JSON lines anywhere else (files, pipes, collectors). */
export function resolveLogFormat(format: LogFormat, stream: unknown): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return (stream as { isTTY?: boolean } | undefined)?.isTTY === true ? 'pretty' : 'json';
}

/** Colours only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function useColour(stream: unknown, env: NodeJS.ProcessEnv = process.env): boolean {
  return (stream as { isTTY?: boolean } | undefined)?.isTTY === true && (env.NO_COLOR ?? '') === '';
}

export interface CreateLoggerOptions {
  /** Component name: bot, worker, cli. */
  name: string;
  level?: string;
  /** Fields bound to every line (workerId, version). */
  bindings?: Record<string, unknown>;
  /** Where lines go; stderr by default so CLI output on stdout stays machine-readable. */
  destination?: DestinationStream;
  /** LOG_FORMAT: `auto` (default) picks pretty lines on a terminal and JSON lines otherwise. */
  format?: LogFormat;
}

export function createLogger({
  name,
  level = 'info',
  bindings = {},
  destination,
  format = 'auto',
}: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    name,
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      bindings: (bound) => redactValue(bound) as Record<string, unknown>,
      log: (object) => redactValue(object) as Record<string, unknown>,
    },
    serializers: { err: (error: unknown) => redactValue(error) },
    hooks: {
      // Messages are free text too: a stray token in one must not survive.
      logMethod(args, method) {
        const masked = args.map((arg) => (typeof arg === 'string' ? redactText(arg) : arg)) as typeof args;
        method.apply(this, masked);
      },
    },
  };
  const target = destination ?? process.stderr;
  if (resolveLogFormat(format, target) === 'pretty') {
    // The same redacted object, drawn as `12:00:01 INFO (worker): job:completed jobId=...`.
    const pretty = PinoPretty({
      destination: destination ?? 2,
      sync: true,
      colorize: useColour(target),
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
      singleLine: true,
    });
    return withRedactingChildren(pino(options, pretty));
  }
  if (destination !== undefined) return withRedactingChildren(pino(options, destination));
  const stderr = pino.destination({ dest: 2, sync: true });
  // A terminal that went away (SIGHUP) fails every write with EIO; losing a log line must not
  // crash a process that is shutting down what it started.
  stderr.on('error', () => undefined);
  return withRedactingChildren(pino(options, stderr));
}

/**
 * pino applies the bindings formatter to the base fields only, never to a child's: mask what a
 * child binds (logger.child({ nats: connectOptions })) before pino serializes it. Children inherit
 * this override from the root, so grandchildren are covered too.
 */
function withRedactingChildren(logger: Logger): Logger {
  const parent = Object.getPrototypeOf(logger) as Pick<Logger, 'child'>;
  const redactingChild = function (this: Logger, ...[bindings, childOptions]: Parameters<Logger['child']>) {
    return parent.child.call(this, redactValue(bindings) as typeof bindings, childOptions);
  };
  Object.defineProperty(logger, 'child', { value: redactingChild, writable: true, configurable: true });
  return logger;
}
