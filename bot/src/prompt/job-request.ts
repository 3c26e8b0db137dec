/**
 * Turns what a user typed (slash options plus flags in the prompt) into a job request, under the
 * guild's settings and the bot's defaults.
 *
 * Precedence, per field: a flag in the prompt text wins over the matching slash option (the text is
 * what users copy and re-run), then the guild's default, then the bot's default. The exception is
 * `--no`, which is appended to the `negative` option rather than replacing it.
 *
 * Guild limits refuse explicit values above them and quietly lower defaults to them: a guild with
 * max-count 2 gets 2 images from a bare `/imagine`, but `--count 4` there is an error.
 */
import { randomInt } from 'node:crypto';
import {
  parseSchedulerName,
  jobSchema,
  LIMITS,
  PROTOCOL_VERSION,
  ValidationError,
  type Config,
  type GenerationJob,
  type GuildSettings,
  type SchedulerName,
  type ValidationIssue,
} from '@sdbot/shared';
import type { z } from 'zod';
import { RequestRefusedError } from '../errors.js';
import { findBannedWord } from './banned-words.js';
import { collectPromptFlags, type ParsedPrompt, type PromptFlagName } from './flags.js';
import {
  ASPECT_CHOICES,
  DEFAULT_BASE_SIZE,
  otherSide,
  parseAspectRatio,
  sizeForAspect,
  type AspectRatio,
} from './size.js';

/** The `/imagine` options as Discord delivers them (absent when the user left them out). */
export interface ImagineOptions {
  prompt: string;
  negative?: string;
  aspect?: string;
  width?: number;
  height?: number;
  steps?: number;
  guidance?: number;
  seed?: number;
  scheduler?: string;
  model?: string;
  count?: number;
}

/** Bot-wide defaults and limits, from configuration. */
export interface JobDefaults {
  /** Undefined: the first model a worker serves. */
  model?: string;
  scheduler: SchedulerName;
  steps: number;
  guidance: number;
  count: number;
  /** Side of the model's native square; aspect ratios aim for its area. */
  baseSize: number;
  maxPixels: number;
}

export function jobDefaultsFromConfig(config: Config, baseSize = DEFAULT_BASE_SIZE): JobDefaults {
  const defaults: JobDefaults = {
    scheduler: config.limits.defaultScheduler,
    steps: config.limits.defaultSteps,
    guidance: config.limits.defaultGuidance,
    count: LIMITS.count.max,
    baseSize,
    maxPixels: config.limits.maxPixels,
  };
  if (config.limits.defaultModel !== undefined) defaults.model = config.limits.defaultModel;
  return defaults;
}

/** Where the command was used; `parentId` is the channel a thread belongs to. */
export interface ChannelRef {
  id: string;
  parentId?: string | null;
}

export interface JobRequestContext {
  defaults: JobDefaults;
  /** The guild's settings; null in direct messages. */
  settings: GuildSettings | null;
  /** Null in direct messages. */
  channel: ChannelRef | null;
  /** Model ids workers serve right now; when given, other models are refused. */
  models?: readonly string[];
  /** Seed for requests that name none (injectable for tests). */
  randomSeed?: () => number;
}

/** Everything the job schema needs except id, requester and createdAt, which the handler adds. */
export type JobRequest = Pick<
  GenerationJob,
  | 'v'
  | 'kind'
  | 'prompt'
  | 'negativePrompt'
  | 'seed'
  | 'steps'
  | 'guidance'
  | 'width'
  | 'height'
  | 'scheduler'
  | 'rng'
  | 'model'
  | 'count'
>;

/** A value the user gave, with where it came from so errors can quote it the way it was typed. */
interface Given<T> {
  value: T;
  /** `--steps 80` for a flag, `steps` for a slash option. */
  label: string;
  fromFlag: boolean;
}

type OptionName = Exclude<keyof ImagineOptions, 'prompt'>;

/** Flag and option holding the same setting. */
const OPTION_OF_FLAG = {
  aspect: 'aspect',
  negative: 'negative',
  seed: 'seed',
  steps: 'steps',
  guidance: 'guidance',
  scheduler: 'scheduler',
  count: 'count',
  model: 'model',
  width: 'width',
  height: 'height',
} as const satisfies Record<PromptFlagName, OptionName>;

function describeGiven(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Issue for a value outside a limit: flags already show the value, options get "(got ...)". */
function limitIssue(given: Given<unknown>, message: string): ValidationIssue {
  return {
    field: given.label,
    message: given.fromFlag ? message : `${message} (got ${describeGiven(given.value)})`,
  };
}

class RequestAssembler {
  readonly issues: ValidationIssue[] = [];

  constructor(
    private readonly options: ImagineOptions,
    private readonly parsed: ParsedPrompt,
  ) {}

  /** The option checked with a protocol field schema; an invalid option is reported and ignored. */
  private option<S extends z.ZodType>(name: OptionName, schema: S): z.output<S> | undefined {
    const raw = this.options[name];
    if (raw === undefined) return undefined;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.issues.push({ field: name, message: parsed.error.issues[0]?.message ?? 'is invalid' });
    return undefined;
  }

  private aspectOption(): AspectRatio | undefined {
    const raw = this.options.aspect;
    if (raw === undefined) return undefined;
    const parsed = parseAspectRatio(raw);
    if (parsed.ok && ASPECT_CHOICES.some((choice) => choice === raw)) return parsed.ratio;
    this.issues.push({
      field: 'aspect',
      message: `must be one of ${ASPECT_CHOICES.join(', ')} (got ${describeGiven(raw)})`,
    });
    return undefined;
  }

  private schedulerOption(): SchedulerName | undefined {
    const raw = this.options.scheduler;
    if (raw === undefined) return undefined;
    const name = parseSchedulerName(raw);
    if (name === undefined) {
      this.issues.push({
        field: 'scheduler',
        message: `is not a scheduler this bot knows (got ${describeGiven(raw)})`,
      });
    }
    return name;
  }

  /** The flag if typed, else the option, with the label to quote in errors. */
  private pick<T>(
    key: PromptFlagName,
    flagValue: T | undefined,
    optionValue: T | undefined,
  ): Given<T> | undefined {
    const typed = this.parsed.typed[key];
    if (flagValue !== undefined && typed !== undefined)
      return { value: flagValue, label: typed, fromFlag: true };
    if (optionValue !== undefined) return { value: optionValue, label: OPTION_OF_FLAG[key], fromFlag: false };
    return undefined;
  }

  given() {
    const shape = jobSchema.shape;
    const flags = this.parsed.flags;
    return {
      aspect: this.pick('aspect', flags.aspect, this.aspectOption()),
      width: this.pick('width', flags.width, this.option('width', shape.width)),
      height: this.pick('height', flags.height, this.option('height', shape.height)),
      steps: this.pick('steps', flags.steps, this.option('steps', shape.steps)),
      guidance: this.pick('guidance', flags.guidance, this.option('guidance', shape.guidance)),
      seed: this.pick('seed', flags.seed, this.option('seed', shape.seed)),
      scheduler: this.pick('scheduler', flags.scheduler, this.schedulerOption()),
      model: this.pick('model', flags.model, this.option('model', shape.model)),
      count: this.pick('count', flags.count, this.option('count', shape.count)),
      negativeOption: this.option('negative', shape.negativePrompt),
    };
  }
}

function refuseChannel(settings: GuildSettings | null, channel: ChannelRef | null): void {
  if (settings === null || channel === null || settings.allowedChannels.length === 0) return;
  const allowed = settings.allowedChannels;
  if (allowed.includes(channel.id)) return;
  if (channel.parentId !== undefined && channel.parentId !== null && allowed.includes(channel.parentId))
    return;
  throw new RequestRefusedError(
    'channel-not-allowed',
    `This server allows /imagine only in ${allowed.map((id) => `<#${id}>`).join(', ')}.`,
  );
}

function refuseBannedWords(settings: GuildSettings | null, prompt: string): void {
  if (settings === null) return;
  const word = findBannedWord(prompt, settings.bannedWords);
  if (word !== undefined) {
    throw new RequestRefusedError('banned-word', `This server does not allow "${word}" in prompts.`);
  }
}

/** A value capped by a guild limit: explicit values above it are errors, defaults are lowered. */
function capped(
  given: Given<number> | undefined,
  fallback: number,
  guildMax: number | undefined,
  issues: ValidationIssue[],
): number {
  if (given === undefined) return guildMax === undefined ? fallback : Math.min(fallback, guildMax);
  if (guildMax !== undefined && given.value > guildMax) {
    issues.push(limitIssue(given, `must be at most ${guildMax} on this server`));
  }
  return given.value;
}

interface SizeContext {
  baseSize: number;
  maxPixels: number;
  /** True when the guild's pixel limit is below the bot's, to say whose limit refused. */
  guildBinding: boolean;
}

function resolveSize(
  given: ReturnType<RequestAssembler['given']>,
  size: SizeContext,
  issues: ValidationIssue[],
): { width: number; height: number } {
  const { aspect, width, height } = given;
  if (width === undefined && height === undefined) {
    return sizeForAspect(aspect?.value ?? { width: 1, height: 1 }, size);
  }
  if (aspect !== undefined && width !== undefined && height !== undefined) {
    issues.push({
      field: aspect.label,
      message: `conflicts with ${width.label} and ${height.label}; give an aspect ratio or a size, not both`,
    });
  }
  const resolved = {
    width:
      width?.value ?? (aspect && height ? otherSide(height.value, aspect.value, 'height') : size.baseSize),
    height:
      height?.value ?? (aspect && width ? otherSide(width.value, aspect.value, 'width') : size.baseSize),
  };
  const pixels = resolved.width * resolved.height;
  if (pixels > size.maxPixels) {
    const labels = [width?.label, height?.label].filter((label) => label !== undefined).join(' ');
    issues.push({
      field: labels,
      message: `width x height must be at most ${size.maxPixels} pixels${size.guildBinding ? ' on this server' : ''} (got ${resolved.width}x${resolved.height} = ${pixels})`,
    });
  }
  return resolved;
}

function resolveModel(
  given: Given<string> | undefined,
  context: JobRequestContext,
  issues: ValidationIssue[],
): string {
  const served = context.models;
  const chosen: Given<string> | undefined =
    given ??
    (context.settings?.defaultModel === undefined
      ? undefined
      : { value: context.settings.defaultModel, label: "this server's default model", fromFlag: false }) ??
    (context.defaults.model === undefined
      ? undefined
      : { value: context.defaults.model, label: "the bot's default model", fromFlag: false });
  if (served?.length === 0) {
    issues.push({ field: 'model', message: 'no worker is serving any model right now; try again later' });
    return chosen?.value ?? '';
  }
  if (chosen === undefined) {
    const first = served?.[0];
    if (first === undefined) {
      issues.push({
        field: 'model',
        message: 'no model is configured; ask the bot operator to set SDBOT_DEFAULT_MODEL',
      });
      return '';
    }
    return first;
  }
  if (served !== undefined && !served.includes(chosen.value)) {
    issues.push(limitIssue(chosen, `is not served right now; available: ${served.join(', ')}`));
  }
  return chosen.value;
}

/** Prompt and negative prompt lengths once the flags are out of the prompt. */
function textIssues(
  parsed: ParsedPrompt,
  negativeOption: string | undefined,
): { negativePrompt: string; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const shape = jobSchema.shape;
  const prompt = parsed.prompt;
  if (prompt !== '' && !shape.prompt.safeParse(prompt).success) {
    issues.push({
      field: 'prompt',
      message: `must be at most ${LIMITS.promptMaxChars} characters without its flags (got ${prompt.length})`,
    });
  }
  const negativePrompt = [negativeOption, parsed.flags.negative]
    .filter((part) => part !== undefined && part.trim() !== '')
    .join(', ');
  if (!shape.negativePrompt.safeParse(negativePrompt).success) {
    issues.push({
      field: parsed.typed.negative === undefined ? 'negative' : `negative and ${parsed.typed.negative}`,
      message: `must be at most ${LIMITS.negativePromptMaxChars} characters together (got ${negativePrompt.length})`,
    });
  }
  return { negativePrompt, issues };
}

/**
 * Checks what needs neither the guild's settings nor the workers: flags, option values, lengths
 * and the size under the bot's own pixel limit. Throws a ValidationError listing every problem, so
 * the bot can refuse at once, before it defers the interaction.
 */
export function checkImagineInput(options: ImagineOptions, defaults: JobDefaults): void {
  const { parsed, issues } = collectPromptFlags(options.prompt);
  const assembler = new RequestAssembler(options, parsed);
  const given = assembler.given();
  issues.push(...assembler.issues, ...textIssues(parsed, given.negativeOption).issues);
  resolveSize(
    given,
    { baseSize: defaults.baseSize, maxPixels: defaults.maxPixels, guildBinding: false },
    issues,
  );
  if (issues.length > 0) throw new ValidationError(issues);
}

/**
 * Builds the job request, or throws: RequestRefusedError when the channel or a banned word is not
 * allowed here, ValidationError listing every bad flag or option otherwise.
 */
export function buildJobRequest(options: ImagineOptions, context: JobRequestContext): JobRequest {
  const { settings, defaults } = context;
  refuseChannel(settings, context.channel);
  const { parsed, issues: flagIssues } = collectPromptFlags(options.prompt);
  refuseBannedWords(settings, parsed.prompt);

  const assembler = new RequestAssembler(options, parsed);
  const given = assembler.given();
  const text = textIssues(parsed, given.negativeOption);
  const issues = [...flagIssues, ...assembler.issues, ...text.issues];
  const prompt = parsed.prompt;
  const negativePrompt = text.negativePrompt;

  const guildMaxPixels = settings?.maxPixels;
  const maxPixels = Math.min(defaults.maxPixels, guildMaxPixels ?? Number.POSITIVE_INFINITY);
  const size = resolveSize(
    given,
    {
      baseSize: defaults.baseSize,
      maxPixels,
      guildBinding: guildMaxPixels !== undefined && guildMaxPixels < defaults.maxPixels,
    },
    issues,
  );
  const request: JobRequest = {
    v: PROTOCOL_VERSION,
    kind: 'txt2img',
    prompt,
    negativePrompt,
    seed: given.seed?.value ?? (context.randomSeed ?? (() => randomInt(0, LIMITS.seed.max + 1)))(),
    steps: capped(given.steps, defaults.steps, settings?.maxSteps, issues),
    guidance: given.guidance?.value ?? defaults.guidance,
    width: size.width,
    height: size.height,
    scheduler: given.scheduler?.value ?? settings?.defaultScheduler ?? defaults.scheduler,
    rng: 'numpy',
    model: resolveModel(given.model, context, issues),
    count: capped(given.count, defaults.count, settings?.maxCount, issues),
  };
  if (issues.length > 0) throw new ValidationError(issues);
  return request;
}
