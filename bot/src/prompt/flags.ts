/**
 * Midjourney-style flags inside the prompt text: `a lighthouse --ar 16:9 --no fog, boats --seed 7`.
 * Values are checked with the same protocol field schemas as the job itself, so `--steps 500` and a
 * job with 500 steps fail with the same range.
 */
import {
  parseSchedulerName,
  JOB_FIELDS,
  SCHEDULER_NAMES,
  ValidationError,
  type SchedulerName,
  type ValidationIssue,
} from '@sdbot/shared';
import type { z } from 'zod';
import { parseAspectRatio, type AspectRatio } from './size.js';

export interface PromptFlags {
  aspect?: AspectRatio;
  seed?: number;
  /** `--no`: things to keep out of the picture, the negative prompt. */
  negative?: string;
  steps?: number;
  guidance?: number;
  scheduler?: SchedulerName;
  count?: number;
  model?: string;
  width?: number;
  height?: number;
}

export type PromptFlagName = keyof PromptFlags;

export interface ParsedPrompt {
  /** The prompt without its flags, whitespace collapsed. */
  prompt: string;
  flags: PromptFlags;
  /** Each flag as it was typed (`--steps 80`), to name it in later errors. */
  typed: Partial<Record<PromptFlagName, string>>;
}

type ValueCheck<T> = { ok: true; value: T } | { ok: false; error: string };

interface FlagSpec<K extends PromptFlagName> {
  key: K;
  /** The first name is the one shown in help; the others are accepted aliases. */
  names: readonly [string, ...string[]];
  example: string;
  /** `--no` takes every word up to the next flag; the others take one word. */
  takesRest?: boolean;
  check(text: string): ValueCheck<NonNullable<PromptFlags[K]>>;
}

type AnyFlagSpec = { [K in PromptFlagName]: FlagSpec<K> }[PromptFlagName];

const NUMBER_TEXT = /^[-+]?\d+(\.\d+)?$/;

/** Checks a value with a protocol field schema; the message drops the "(got ...)" the flag already shows. */
function withField<S extends z.ZodType>(schema: S, numeric: boolean) {
  return (text: string): ValueCheck<z.output<S>> => {
    const input = numeric && NUMBER_TEXT.test(text) ? Number(text) : text;
    const parsed = schema.safeParse(input);
    if (parsed.success) return { ok: true, value: parsed.data };
    const message = parsed.error.issues[0]?.message ?? 'is invalid';
    return { ok: false, error: message.replace(/ \(got .*\)$/s, '') };
  };
}

function flag<K extends PromptFlagName>(spec: FlagSpec<K>): FlagSpec<K> {
  return spec;
}

const shape = JOB_FIELDS;

export const FLAG_SPECS: readonly AnyFlagSpec[] = [
  flag({
    key: 'aspect',
    names: ['ar', 'aspect'],
    example: '--ar 16:9',
    check: (text) => {
      const parsed = parseAspectRatio(text);
      return parsed.ok ? { ok: true, value: parsed.ratio } : parsed;
    },
  }),
  flag({
    key: 'negative',
    names: ['no'],
    example: '--no blurry, text',
    takesRest: true,
    check: withField(shape.negativePrompt, false),
  }),
  flag({ key: 'seed', names: ['seed'], example: '--seed 42', check: withField(shape.seed, true) }),
  flag({ key: 'steps', names: ['steps'], example: '--steps 30', check: withField(shape.steps, true) }),
  flag({
    key: 'guidance',
    names: ['cfg', 'guidance'],
    example: '--cfg 7.5',
    check: withField(shape.guidance, true),
  }),
  flag({
    key: 'scheduler',
    names: ['scheduler', 'sampler'],
    example: '--scheduler euler_a',
    check: (text) => {
      const name = parseSchedulerName(text);
      return name === undefined
        ? { ok: false, error: `must be one of ${SCHEDULER_NAMES.join(', ')}` }
        : { ok: true, value: name };
    },
  }),
  flag({ key: 'count', names: ['count'], example: '--count 2', check: withField(shape.count, true) }),
  flag({ key: 'model', names: ['model'], example: '--model sd15', check: withField(shape.model, false) }),
  flag({ key: 'width', names: ['w', 'width'], example: '--w 768', check: withField(shape.width, true) }),
  flag({ key: 'height', names: ['h', 'height'], example: '--h 512', check: withField(shape.height, true) }),
];

/** `--ar, --aspect, --no, ...` for the unknown-flag message and the README. */
export const KNOWN_FLAGS_TEXT = FLAG_SPECS.flatMap((spec) => spec.names.map((name) => `--${name}`)).join(
  ', ',
);

/** A flag token starts with `--`, or the dash a phone keyboard makes of it (— or –), then a letter. */
const FLAG_TOKEN = /^(?:--|\u2014|\u2013)([a-z][a-z0-9-]*)(?:=(.*))?$/is;

function findSpec(name: string): AnyFlagSpec | undefined {
  const lower = name.toLowerCase();
  return FLAG_SPECS.find((spec) => spec.names.includes(lower));
}

function assign<K extends PromptFlagName>(
  spec: FlagSpec<K>,
  valueText: string,
  label: string,
  parsed: ParsedPrompt,
  issues: ValidationIssue[],
): void {
  const previous = parsed.typed[spec.key];
  if (previous !== undefined && spec.key !== 'negative') {
    issues.push({ field: label, message: `${previous} was already given; keep one` });
    return;
  }
  const result = spec.check(valueText);
  if (!result.ok) {
    issues.push({ field: label, message: result.error });
    return;
  }
  if (spec.key === 'negative' && parsed.flags.negative !== undefined) {
    // Several --no lists add up, as they do in Midjourney.
    parsed.flags.negative = `${parsed.flags.negative}, ${valueText}`;
    parsed.typed.negative = `${previous ?? ''} ${label}`.trim();
    return;
  }
  parsed.flags[spec.key] = result.value;
  parsed.typed[spec.key] = label;
}

/**
 * Splits flags out of the prompt and returns every problem found instead of stopping at the first,
 * so one reply can list them all.
 */
export function collectPromptFlags(text: string): { parsed: ParsedPrompt; issues: ValidationIssue[] } {
  const tokens = text.split(/\s+/).filter((token) => token !== '');
  const words: string[] = [];
  const parsed: ParsedPrompt = { prompt: '', flags: {}, typed: {} };
  const issues: ValidationIssue[] = [];
  let index = 0;
  while (index < tokens.length) {
    const token = tokens[index++] ?? '';
    const match = FLAG_TOKEN.exec(token);
    if (!match) {
      words.push(token);
      continue;
    }
    const name = `--${(match[1] ?? '').toLowerCase()}`;
    const spec = findSpec(match[1] ?? '');
    if (spec === undefined) {
      issues.push({ field: name, message: `unknown flag; known flags: ${KNOWN_FLAGS_TEXT}` });
      continue;
    }
    const valueWords = match[2] === undefined ? [] : [match[2]];
    const isFlag = (candidate: string | undefined) => candidate !== undefined && FLAG_TOKEN.test(candidate);
    if (spec.takesRest === true) {
      while (index < tokens.length && !isFlag(tokens[index])) valueWords.push(tokens[index++] ?? '');
    } else if (valueWords.length === 0 && index < tokens.length && !isFlag(tokens[index])) {
      valueWords.push(tokens[index++] ?? '');
    }
    const valueText = valueWords.join(' ').trim();
    if (valueText === '') {
      issues.push({ field: name, message: `needs a value, e.g. ${spec.example}` });
      continue;
    }
    assign(spec, valueText, `${name} ${valueText}`, parsed, issues);
  }
  parsed.prompt = words.join(' ');
  if (parsed.prompt === '') {
    issues.push({
      field: 'prompt',
      message: 'is empty: describe the picture before the flags, e.g. a lighthouse at dusk --ar 16:9',
    });
  }
  return { parsed, issues };
}

/** Like collectPromptFlags, but throws a ValidationError whose fields are the flags as typed (`--ar 7:0`). */
export function parsePromptFlags(text: string): ParsedPrompt {
  const { parsed, issues } = collectPromptFlags(text);
  if (issues.length > 0) throw new ValidationError(issues);
  return parsed;
}
