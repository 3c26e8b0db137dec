/**
 * The value types a configuration variable can have: zod schemas that accept what an operator
 * types in an environment variable (text) as well as JSON values from the config file.
 */
import { z } from 'zod';

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `1500ms`, `30s`, `5m`, `2h`, `1d` or a plain number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? 'ms') as keyof typeof DURATION_UNITS_MS;
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[unit]);
}

export const fromText = (value: unknown) => (typeof value === 'string' ? value.trim() : value);

export const integer = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value),
    z
      .number({ error: `must be an integer in ${min}..${max}` })
      .int({ error: `must be an integer in ${min}..${max}` })
      .min(min, { error: `must be an integer in ${min}..${max}` })
      .max(max, { error: `must be an integer in ${min}..${max}` }),
  );

export const decimal = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value),
    z
      .number({ error: `must be a number in ${min}..${max}` })
      .min(min, { error: `must be a number in ${min}..${max}` })
      .max(max, { error: `must be a number in ${min}..${max}` }),
  );

/** Writes a minimum the way an operator types it: 5s rather than 5000. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${String(ms / size)}${unit}`;
  }
  return `${String(ms)}ms`;
}

/**
 * A duration with a floor: 0 or a few milliseconds would turn an ack wait, a heartbeat or a store's
 * max age into a redelivery storm or instant expiry, so each has the least value that still works.
 */
export const duration = (minMs: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? (parseDuration(value) ?? value) : value),
    z
      .number({ error: 'must be a duration such as 500ms, 30s, 5m, 2h or 1d' })
      .int({ error: 'must be a duration such as 500ms, 30s, 5m, 2h or 1d' })
      .min(minMs, { error: `must be at least ${formatDuration(minMs)}` }),
  );

/** A duration of at least `minMs` (a limit of 0 would fail every job at once). */
export const durationAtLeast = (minMs: number, minText: string) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? (parseDuration(value) ?? value) : value),
    z
      .number({ error: `must be a duration of at least ${minText}, such as 30s, 10m or 1h` })
      .int()
      .min(minMs, { error: `must be at least ${minText}` }),
  );

export const toggle = z.preprocess(
  (value) => {
    if (typeof value !== 'string') return value;
    const text = value.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on', 'enabled'].includes(text)) return true;
    if (['0', 'false', 'no', 'off', 'disabled'].includes(text)) return false;
    return value;
  },
  z.boolean({ error: 'must be true or false (also 1/0, yes/no, on/off)' }),
);

export const list = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== '')
      : value,
  z.array(z.string().min(1)),
);

export const url = z.preprocess(fromText, z.url({ error: 'must be a URL such as https://discord.com/api' }));
export const text = z.preprocess(fromText, z.string().min(1));

export const natsServers = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((item) => item.trim()) : value),
  z
    .array(
      z.string().regex(/^(nats|tls|ws|wss):\/\/[^\s]+$/, {
        error: 'must be nats://host:port (comma-separated for several)',
      }),
    )
    .min(1),
);

export interface Variable<S extends z.ZodType> {
  env: string;
  schema: S;
  /** Applied when neither the environment nor the config file sets the variable. */
  default?: z.input<S>;
  description: string;
  /** Never printed or logged. */
  secret?: boolean;
}

export function variable<S extends z.ZodType>(spec: Variable<S>): Variable<S> {
  return spec;
}
