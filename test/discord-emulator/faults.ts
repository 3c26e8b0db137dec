/**
 * Faults a test injects into REST answers: rate limits (429 with Discord's headers and body),
 * server errors, auth failures, and slow answers.
 */
import { createHash } from 'node:crypto';

export interface RouteCall {
  readonly method: string;
  /** Templated, e.g. 'PATCH /webhooks/:app/:token/messages/@original'. */
  readonly route: string;
  /** Concrete path under /api/v10, e.g. '/webhooks/1234/abc/messages/@original'. */
  readonly path: string;
}

/**
 * Which calls a fault hits. A string is a templated route with or without its method
 * ('PATCH /webhooks/:app/:token/messages/@original' or '/channels/:channel/messages'); a RegExp is
 * tested against both 'METHOD /template' and 'METHOD /concrete/path'.
 */
export type RouteMatcher = string | RegExp | ((call: RouteCall) => boolean);

export function routeMatches(matcher: RouteMatcher, call: RouteCall): boolean {
  if (typeof matcher === 'function') return matcher(call);
  if (typeof matcher === 'string') {
    return matcher.startsWith('/')
      ? call.route.slice(call.route.indexOf(' ') + 1) === matcher
      : call.route === matcher;
  }
  return matcher.test(call.route) || matcher.test(`${call.method} ${call.path}`);
}

export interface FaultSpec {
  /** Default: every route. */
  route?: RouteMatcher;
  /** 429, 5xx, 401, 403, 404... Without a status the call is only delayed, then answered normally. */
  status?: number;
  /** How many matching calls it hits (default 1; Infinity until cancelled). */
  times?: number;
  /** 429 only: seconds in Retry-After and retry_after (default 1; fractions allowed). */
  retryAfterSeconds?: number;
  /** 429 only: a global rate limit (X-RateLimit-Global, scope "global"). */
  global?: boolean;
  /** Overrides the JSON error code (default: what Discord sends for the status and route). */
  code?: number;
  message?: string;
  /** Waits this long before answering (a slow Discord, or one that outlasts client timeouts). */
  delayMs?: number;
}

export class FaultHandle {
  #hits = 0;
  #cancelled = false;

  constructor(readonly spec: FaultSpec) {}

  /** Calls this fault answered. */
  get hits(): number {
    return this.#hits;
  }

  get remaining(): number {
    return this.#cancelled ? 0 : Math.max(0, (this.spec.times ?? 1) - this.#hits);
  }

  cancel(): void {
    this.#cancelled = true;
  }

  /** Counts a hit when this fault applies to the call. */
  take(call: RouteCall): boolean {
    if (this.remaining === 0) return false;
    if (this.spec.route !== undefined && !routeMatches(this.spec.route, call)) return false;
    this.#hits += 1;
    return true;
  }
}

export interface FaultResponse {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export class FaultInjector {
  readonly #faults: FaultHandle[] = [];

  add(spec: FaultSpec): FaultHandle {
    const { status, delayMs } = spec;
    if (status === undefined && delayMs === undefined) {
      throw new RangeError('injectFault: give a status, a delayMs, or both');
    }
    if (status !== undefined && (!Number.isInteger(status) || status < 400 || status > 599)) {
      throw new RangeError(`injectFault: status must be an HTTP error status (400-599), got ${status}`);
    }
    const handle = new FaultHandle(spec);
    this.#faults.push(handle);
    return handle;
  }

  /** The first fault that applies to this call, consuming one of its hits. */
  take(call: RouteCall): FaultHandle | undefined {
    return this.#faults.find((fault) => fault.take(call));
  }

  clear(): void {
    for (const fault of this.#faults) fault.cancel();
  }
}

/** The answer Discord gives for this error status on this route. */
export function faultResponse(
  status: number,
  spec: FaultSpec,
  call: RouteCall,
  nowMs: number,
): FaultResponse {
  if (status === 429) return rateLimitResponse(spec, call, nowMs);
  const webhookRoute = /^\w+ \/(webhooks|interactions)\//.test(call.route);
  const defaults: Partial<Record<number, { code: number; message: string }>> = {
    401: webhookRoute
      ? { code: 50027, message: 'Invalid Webhook Token' }
      : { code: 0, message: '401: Unauthorized' },
    403: { code: 50013, message: 'Missing Permissions' },
  };
  const fallback = defaults[status] ?? {
    code: 0,
    message: `${status}: ${STATUS_TEXT[status] ?? 'Error'}`,
  };
  return {
    status,
    headers: {},
    body: { message: spec.message ?? fallback.message, code: spec.code ?? fallback.code },
  };
}

function rateLimitResponse(spec: FaultSpec, call: RouteCall, nowMs: number): FaultResponse {
  const retryAfter = spec.retryAfterSeconds ?? 1;
  const global = spec.global ?? false;
  const headers: Record<string, string> = {
    'retry-after': String(retryAfter),
    'x-ratelimit-scope': global ? 'global' : 'user',
  };
  if (global) {
    headers['x-ratelimit-global'] = 'true';
  } else {
    headers['x-ratelimit-limit'] = '5';
    headers['x-ratelimit-remaining'] = '0';
    headers['x-ratelimit-reset'] = ((nowMs + retryAfter * 1000) / 1000).toFixed(3);
    headers['x-ratelimit-reset-after'] = retryAfter.toFixed(3);
    headers['x-ratelimit-bucket'] = createHash('sha1').update(call.route).digest('hex').slice(0, 32);
  }
  const body: Record<string, unknown> = {
    message: spec.message ?? 'You are being rate limited.',
    retry_after: retryAfter,
    global,
  };
  if (spec.code !== undefined) body.code = spec.code;
  return { status: 429, headers, body };
}
