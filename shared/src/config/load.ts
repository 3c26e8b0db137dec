/** Reads, checks and groups the configuration from the environment and the SDBOT_CONFIG file. */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import {
  CONFIG_FILE_VARIABLE,
  CONFIG_SPEC,
  listConfigVariables,
  NON_CONFIG_VARIABLES,
  type Config,
} from '../config.js';
import { ConfigError } from '../errors.js';
import { describeValue } from '../protocol/fields.js';
import type { Variable } from './values.js';

function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance <= 3 && (best === undefined || distance < best.distance))
      best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function readConfigFile(path: string): Record<string, unknown> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(
      `${CONFIG_FILE_VARIABLE}: cannot read config file ${path}`,
      [CONFIG_FILE_VARIABLE],
      {
        cause,
      },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (cause) {
    throw new ConfigError(
      `${CONFIG_FILE_VARIABLE}: config file ${path} is not valid JSON`,
      [CONFIG_FILE_VARIABLE],
      {
        cause,
      },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(
      `${CONFIG_FILE_VARIABLE}: config file ${path} must hold a JSON object of variable names`,
      [CONFIG_FILE_VARIABLE],
    );
  }
  return parsed as Record<string, unknown>;
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Values that win over the environment and the file (command-line flags such as --nats). */
  overrides?: Readonly<Record<string, unknown>>;
}

/**
 * Reads, validates and groups the configuration. Throws one ConfigError listing every unknown or
 * malformed variable, so an operator fixes them all in one go.
 */
export function loadConfig({ env = process.env, overrides = {} }: LoadConfigOptions = {}): Config {
  const variables = listConfigVariables();
  const known = variables.map((v) => v.env);
  const problems: string[] = [];
  const badNames: string[] = [];

  const filePath = env[CONFIG_FILE_VARIABLE];
  const fromFile = filePath ? readConfigFile(filePath) : {};
  for (const name of Object.keys(fromFile)) {
    if (!known.includes(name) || name === CONFIG_FILE_VARIABLE) {
      const hint = closestName(name, known);
      problems.push(
        `${name} (in ${filePath ?? 'config file'}): unknown variable${hint ? `; did you mean ${hint}?` : ''}`,
      );
      badNames.push(name);
    }
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('SDBOT_') && !known.includes(name) && !NON_CONFIG_VARIABLES.includes(name)) {
      const hint = closestName(name, known);
      problems.push(`${name}: unknown variable${hint ? `; did you mean ${hint}?` : ''}`);
      badNames.push(name);
    }
  }

  const config: Record<string, Record<string, unknown>> = {};
  for (const [group, specs] of Object.entries(CONFIG_SPEC)) {
    const values: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(specs as Record<string, Variable<z.ZodType>>)) {
      const envValue = env[spec.env];
      const raw =
        overrides[spec.env] ??
        (envValue !== undefined && envValue !== '' ? envValue : undefined) ??
        fromFile[spec.env] ??
        spec.default;
      const parsed = spec.schema.safeParse(raw);
      if (parsed.success) {
        values[key] = parsed.data;
      } else {
        const shown = spec.secret === true ? '(hidden)' : describeValue(raw);
        const reason = parsed.error.issues[0]?.message ?? 'is invalid';
        problems.push(`${spec.env}: ${reason} (got ${shown})`);
        badNames.push(spec.env);
      }
    }
    config[group] = values;
  }

  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`, badNames);
  }
  return config as unknown as Config;
}
