/**
 * Field builders shared by the message schemas. Every failure message names the allowed range and
 * echoes the offending value, so "steps: must be an integer in 1..150 (got 0)" reaches the user.
 */
import { z } from 'zod';
import { LIMITS, rangeText } from '../limits.js';

interface Range {
  readonly min: number;
  readonly max: number;
}

/** Short, safe rendering of a rejected value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    // JSON.stringify returns undefined for functions and symbols despite its declared type.
    const json: unknown = JSON.stringify(value);
    text = typeof json === 'string' ? json : typeof value;
  } catch {
    text = typeof value;
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function withGot(message: string) {
  return { error: (issue: { input?: unknown }) => `${message} (got ${describeValue(issue.input)})` };
}

export function integerIn(range: Range, what = 'an integer') {
  const rule = withGot(`must be ${what} in ${rangeText(range)}`);
  return z.number(rule).int(rule).min(range.min, rule).max(range.max, rule);
}

export function numberIn(range: Range) {
  const rule = withGot(`must be a number in ${rangeText(range)}`);
  return z.number(rule).min(range.min, rule).max(range.max, rule);
}

export function nonNegativeInteger() {
  const rule = withGot('must be a non-negative integer');
  return z.number(rule).int(rule).min(0, rule);
}

export function nonNegativeNumber() {
  const rule = withGot('must be a non-negative number');
  return z.number(rule).min(0, rule);
}

/** Milliseconds since the epoch. */
export function timestamp() {
  const rule = withGot('must be a timestamp in milliseconds since the epoch');
  return z.number(rule).int(rule).min(0, rule);
}

export function textUpTo(maxChars: number, { allowEmpty }: { allowEmpty: boolean }) {
  const rule = withGot(`must be text of ${allowEmpty ? 0 : 1}..${maxChars} characters`);
  return z
    .string(rule)
    .min(allowEmpty ? 0 : 1, rule)
    .max(maxChars, rule);
}

/** A token usable inside a NATS subject: job ids, model ids, worker ids. */
export function identifier(what: string) {
  const rule = withGot(`must be a ${what}: 1-64 letters, digits, "_" or "-"`);
  return z.string(rule).regex(LIMITS.idPattern, rule);
}

/** Discord snowflake (17-20 digits). */
export function snowflake() {
  const rule = withGot('must be a Discord id (17-20 digits)');
  return z.string(rule).regex(/^\d{17,20}$/, rule);
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, withGot(`must be one of ${values.join(', ')}`));
}

export function flag() {
  return z.boolean(withGot('must be true or false'));
}

/**
 * Width or height: a multiple of `multiple` (what the UNet runs, by default) within the absolute
 * bounds; the pixel budget is checked per job.
 */
export function imageSide(multiple: number = LIMITS.sizeMultiple) {
  const rule = withGot(`must be a multiple of ${multiple} in ${rangeText(LIMITS.size)}`);
  return z
    .number(rule)
    .int(rule)
    .min(LIMITS.size.min, rule)
    .max(LIMITS.size.max, rule)
    .multipleOf(multiple, rule);
}
