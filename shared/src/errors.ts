/**
 * Stable error codes. They cross the wire (failure messages, dead letters, CLI exit output), so a
 * code is never renamed or reused for another meaning; add new ones instead.
 */
export const ERROR_CODES = {
  /** A user-supplied value (prompt, option, image, CLI flag) is out of range or malformed. */
  INVALID_INPUT: { retryable: false },
  /** A NATS message failed schema validation or was not JSON. */
  INVALID_MESSAGE: { retryable: false },
  /** A message carries a protocol version this process does not understand. */
  UNSUPPORTED_VERSION: { retryable: false },
  /** Configuration (environment or config file) is missing or malformed. */
  CONFIG_INVALID: { retryable: false },
  /** The requested model is not served by any worker, or not loaded by this one. */
  UNKNOWN_MODEL: { retryable: false },
  /** The job needs a capability a worker lacks (an older worker during a rolling upgrade). */
  UNSUPPORTED_CAPABILITY: { retryable: false },
  /** A model directory is incomplete or one of its files is not what the pipeline expects. */
  MODEL_INVALID: { retryable: false },
  /** The image to start from (img2img, variation, upscale) could not be read. */
  IMAGE_INVALID: { retryable: false },
  /** A rate limit refused the request; `retryAfterMs` says when to try again. */
  RATE_LIMITED: { retryable: true },
  /** The job was cancelled by its requester or an admin. */
  CANCELLED: { retryable: false },
  /** The job or an operation took longer than allowed. */
  TIMEOUT: { retryable: true },
  /** The worker is shutting down; the job goes back to the queue for another worker. */
  WORKER_SHUTDOWN: { retryable: true },
  /** The job was delivered more often than the consumer allows and was dead-lettered. */
  MAX_DELIVERIES_EXCEEDED: { retryable: false },
  /** NATS could not be reached or refused an operation. */
  NATS_UNAVAILABLE: { retryable: true },
  /** The NATS server (or the model hub) refused an operation for lack of permission. */
  PERMISSION_DENIED: { retryable: false },
  /** Something that was looked up (job, image, settings) does not exist. */
  NOT_FOUND: { retryable: false },
  /** The inference runtime failed (out of memory, provider error). */
  INFERENCE_FAILED: { retryable: true },
  /** The Discord API refused or failed a request. */
  DISCORD_API: { retryable: true },
  /** Fetching model files failed: network or hub errors, a checksum mismatch, or a disk write. */
  DOWNLOAD_FAILED: { retryable: true },
  /** A bug: an unexpected exception. */
  INTERNAL: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const errorCodes = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export interface SdbotErrorOptions {
  cause?: unknown;
  /** Overrides the code's default retryability (e.g. a transient model-load failure). */
  retryable?: boolean;
}

/** Base class of every error this project raises on purpose: a stable code plus a human message. */
export class SdbotError extends Error {
  override name = 'SdbotError';
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: SdbotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }
}

export interface ValidationIssue {
  /** Dotted path of the offending field (`width`, `requester.guildId`), or `(root)`. */
  field: string;
  message: string;
}

/** Input that failed validation; `issues` names every offending field. */
export class ValidationError extends SdbotError {
  override name = 'ValidationError';
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], options: SdbotErrorOptions & { code?: ErrorCode } = {}) {
    super(options.code ?? 'INVALID_INPUT', issues.map((i) => `${i.field}: ${i.message}`).join('; '), options);
    this.issues = issues;
  }
}

/** A configuration variable is unknown, missing or malformed; raised at start. */
export class ConfigError extends SdbotError {
  override name = 'ConfigError';
  readonly variables: readonly string[];

  constructor(message: string, variables: readonly string[], options: SdbotErrorOptions = {}) {
    super('CONFIG_INVALID', message, options);
    this.variables = variables;
  }
}

/** A message on NATS that this process cannot accept (bad JSON, schema, or version). */
export class ProtocolError extends ValidationError {
  override name = 'ProtocolError';
}

/** Raised when a limit refuses a request; tells the caller when to come back. */
export class RateLimitError extends SdbotError {
  override name = 'RateLimitError';
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super('RATE_LIMITED', message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Wraps anything thrown into an SdbotError so it can be reported with a stable code. */
export function toSdbotError(error: unknown): SdbotError {
  if (error instanceof SdbotError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SdbotError('INTERNAL', message, { cause: error });
}
