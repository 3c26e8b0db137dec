import type { z } from 'zod';
import { CONFIG_SPEC, type Config } from '../config.js';
import { REDACTED, redactValue } from '../logger.js';
import type { Variable } from './values.js';

/**
 * The configuration with secrets replaced, for `sdbot config` and start-up logs: secret variables
 * whole, and credentials inside any other value (nats://user:password@host, a mirror URL in
 * HF_ENDPOINT with a user or a token in its query).
 */
export function redactConfig(config: Config): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [group, specs] of Object.entries(CONFIG_SPEC)) {
    const values = (config as unknown as Record<string, Record<string, unknown>>)[group] ?? {};
    const shown: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(specs as Record<string, Variable<z.ZodType>>)) {
      const value = values[key];
      shown[key] = spec.secret === true && value !== undefined ? REDACTED : redactValue(value);
    }
    out[group] = shown;
  }
  return out;
}
