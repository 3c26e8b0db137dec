/**
 * The CLI contract between the dispatcher and the packages. Each package lists its commands in a
 * manifest (name, summary, lazy loader) so `sdbot --help` never loads onnxruntime or discord.js.
 */
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { SdbotError, ValidationError } from '../errors.js';
import { toValidationIssues } from '../protocol/codec.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  short?: string;
  multiple?: boolean;
  /** Placeholder in help (`--steps N`). */
  valueName?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** A flag that takes a value, shown in help as `--name VALUE_NAME`. */
export function valueFlag(valueName: string, description: string): OptionSpec {
  return { type: 'string', valueName, description };
}

/** Parsed values: strings (or string[] when `multiple`) and booleans, keyed by option name. */
export type ParsedOptions = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT, SIGTERM or SIGHUP (reason: the signal's name): commands shut down gracefully. */
  signal: AbortSignal;
}

export interface CommandContext extends CommandIO {
  options: ParsedOptions;
  positionals: string[];
}

export interface CommandDefinition {
  name: string;
  summary: string;
  /** Argument synopsis after the command name, e.g. `--model DIR --prompt TEXT [--json]`. */
  usage: string;
  options: OptionSpecs;
  /** Extra help text shown under the options. */
  details?: string;
  allowPositionals?: boolean;
  /** Returns the process exit code (0 when omitted). */
  run(context: CommandContext): Promise<number | undefined>;
}

export interface CommandManifestEntry {
  name: string;
  summary: string;
  load(): Promise<CommandDefinition>;
}

/** Usage mistakes (unknown flag, missing value): exit code 2 and the command's help hint. */
export class UsageError extends SdbotError {
  override name = 'UsageError';
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

export function parseCommandArgs(
  command: CommandDefinition,
  argv: string[],
): { options: ParsedOptions; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = { type: spec.type };
    if (spec.short !== undefined) options[name].short = spec.short;
    if (spec.multiple !== undefined) options[name].multiple = spec.multiple;
  }
  try {
    const parsed = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: command.allowPositionals ?? false,
      allowNegative: true,
    });
    return { options: parsed.values, positionals: parsed.positionals };
  } catch (error) {
    const message =
      error instanceof Error ? error.message.replace(/\. To specify a positional.*$/s, '') : String(error);
    throw new UsageError(message);
  }
}

export function formatCommandHelp(command: CommandDefinition): string {
  const lines = [`Usage: sdbot ${command.name} ${command.usage}`.trimEnd(), '', command.summary];
  const entries = Object.entries(command.options);
  if (entries.length > 0) {
    lines.push('', 'Options:');
    const rows = entries.map(([name, spec]) => {
      const flag = `${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
      return [flag, spec.description + (spec.multiple === true ? ' (repeatable)' : '')] as const;
    });
    const width = Math.max(...rows.map(([flag]) => flag.length));
    for (const [flag, description] of rows) lines.push(`  ${flag.padEnd(width)}  ${description}`);
  }
  if (command.details !== undefined) lines.push('', command.details);
  return `${lines.join('\n')}\n`;
}

/** Reads a string option; throws a UsageError naming the flag when it is required and absent. */
export function stringOption(
  options: ParsedOptions,
  name: string,
  { required = false } = {},
): string | undefined {
  const value = options[name];
  if (Array.isArray(value)) return stringOption({ [name]: value.at(-1) }, name, { required });
  if (typeof value === 'string') return value;
  if (required) throw new UsageError(`--${name} is required`);
  return undefined;
}

export function stringListOption(options: ParsedOptions, name: string): string[] {
  const value = options[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === 'string');
}

/**
 * Parses a flag with a zod schema from the protocol (after `toInput`), so a bad flag fails with the
 * same message as a bad Discord option, named after the flag.
 */
export function schemaOption<S extends z.ZodType>(
  options: ParsedOptions,
  name: string,
  schema: S,
  toInput: (raw: string) => unknown = (raw) => raw,
): z.output<S> | undefined {
  const raw = stringOption(options, name);
  if (raw === undefined) return undefined;
  const parsed = schema.safeParse(toInput(raw));
  if (!parsed.success) {
    const issues = toValidationIssues(parsed.error).map((issue) => ({ ...issue, field: `--${name}` }));
    throw new ValidationError(issues);
  }
  return parsed.data;
}

/**
 * Parses a numeric flag with a zod schema from the protocol, so `--steps 0` fails with the same
 * range message as a bad Discord option.
 */
export function numberOption<S extends z.ZodType<number>>(
  options: ParsedOptions,
  name: string,
  schema: S,
): z.output<S> | undefined {
  return schemaOption(options, name, schema, (raw) => {
    const value = raw.trim() === '' ? Number.NaN : Number(raw);
    return Number.isNaN(value) ? raw : value;
  });
}
