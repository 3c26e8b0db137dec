import type { z } from 'zod';
import { ProtocolError, ValidationError, type ValidationIssue } from '../errors.js';
import { PROTOCOL_VERSION } from './common.js';

/** Turns zod issues into `{ field, message }` pairs that name the offending field. */
export function toValidationIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((key) => (path ? `${path}.${key}` : key));
      return { field: keys.join(', '), message: 'is not a known field' };
    }
    const field = path || '(root)';
    if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
      return { field, message: `is required (${issue.expected})` };
    }
    const missing = issue.code === 'invalid_type' && issue.message.includes('(got nothing)');
    return { field, message: missing ? `is required; ${issue.message}` : issue.message };
  });
}

/** Validates a value (user input, CLI flags) and throws a ValidationError naming each bad field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(toValidationIssues(parsed.error));
  return parsed.data;
}

/**
 * Stored state as the schema reads it, or null when it is not JSON or does not fit (corrupt, or
 * written by another version): for readers that treat such state as absent.
 */
export function parseOrNull<S extends z.ZodType>(schema: S, data: Uint8Array): z.output<S> | null {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** Validates and serializes a message; a bug that builds a bad message fails here, not remotely. */
export function encodeMessage<S extends z.ZodType>(schema: S, value: z.input<S>): Uint8Array {
  const checked = validate(schema, value);
  return new TextEncoder().encode(JSON.stringify(checked));
}

/**
 * Parses a message from NATS. Refuses, with a ProtocolError naming the field, anything that is not
 * JSON, has no version, has a version this process does not speak, or fails the schema.
 */
export function decodeMessage<S extends z.ZodType>(schema: S, data: Uint8Array | string): z.output<S> {
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError([{ field: '(root)', message: 'is not valid JSON' }], {
      code: 'INVALID_MESSAGE',
      cause,
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ProtocolError([{ field: '(root)', message: 'must be a JSON object' }], {
      code: 'INVALID_MESSAGE',
    });
  }
  const version = (raw as { v?: unknown }).v;
  if (typeof version === 'number' && Number.isInteger(version) && version !== PROTOCOL_VERSION) {
    const advice = version > PROTOCOL_VERSION ? 'upgrade this process' : 'upgrade the sender';
    throw new ProtocolError(
      [
        {
          field: 'v',
          message: `protocol version ${version} is not supported (this process speaks ${PROTOCOL_VERSION}); ${advice}`,
        },
      ],
      { code: 'UNSUPPORTED_VERSION' },
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ProtocolError(toValidationIssues(parsed.error), { code: 'INVALID_MESSAGE' });
  }
  return parsed.data;
}
