/**
 * Turns what a user typed (slash options plus flags in the prompt) into a job request, under the
 * guild's settings and the bot's defaults.
 *
 * Precedence, per field: a flag in the prompt text wins over the matching slash option (the text is
 * what users copy and re-run), then the default layers (the member's preferences, the channel's
 * defaults, the guild's settings; see default-layers.ts), then the bot's default. The exception is `--no`, which is appended to the `negative` option
 * rather than replacing it.
 *
 * Guild limits refuse explicit values above them and quietly lower defaults to them: a guild with
 * max-count 2 gets 2 images from a bare `/imagine`, but `--count 4` there is an error. A member's
 * preference above a limit is lowered to it too, with a note saying so.
 */
import {
  parseSchedulerName,
  configuredJobDefaults,
  DEFAULT_PROMPT_SYNTAX,
  JOB_FIELDS,
  LIMITS,
  PROTOCOL_VERSION,
  randomSeed,
  ValidationError,
  type Config,
  type JobDraft,
  type GuildSettings,
  type SchedulerName,
  type UserPreferences,
  type ValidationIssue,
} from '@sdbot/shared';
import type { z } from 'zod';
import { channelLayer, layered, memberLayer, serverLayer, type DefaultsLayer } from './default-layers.js';
import { refuseBannedWords, refuseChannel, unservedModel, type ChannelRef } from '../requests/policy.js';
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

/** The configuration's defaults, with Discord's own: four images, sizes from the model's square. */
export function jobDefaultsFromConfig(config: Config, baseSize = DEFAULT_BASE_SIZE): JobDefaults {
  const { model, scheduler, steps, guidance, maxPixels } = configuredJobDefaults(config);
  const defaults: JobDefaults = { scheduler, steps, guidance, count: LIMITS.count.max, baseSize, maxPixels };
  if (model !== undefined) defaults.model = model;
  return defaults;
}

export interface JobRequestContext {
  defaults: JobDefaults;
  /** The guild's settings; null in direct messages. */
  settings: GuildSettings | null;
  /** Null in direct messages. */
  channel: ChannelRef | null;
  /** Model ids workers serve right now; when given, other models are refused. */
  models?: readonly string[];
  /** Defaults in precedence order, before the bot's own (default: the guild's settings). */
  layers?: readonly DefaultsLayer[];
  /** Seed for requests that name none (injectable for tests). */
  randomSeed?: () => number;
  /** The member's own defaults; null or absent when they set none. */
  preferences?: UserPreferences | null;
  /** Where to tell the member that a preference was lowered to a limit. */
  notes?: string[];
}

/** A /imagine request: the draft of a txt2img job. */
export type ImagineDraft = Extract<JobDraft, { kind: 'txt2img' }>;

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
    const shape = JOB_FIELDS;
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

/**
 * The member's preferred size when the request names none: an aspect ratio, or a size (a side left
 * out is the model's square side); a size over the pixel limit keeps its shape and shrinks to fit.
 */
function preferredSize(
  preferences: UserPreferences | null | undefined,
  size: SizeContext,
  notes: string[] | undefined,
): { width: number; height: number } | undefined {
  if (preferences === null || preferences === undefined) return undefined;
  if (preferences.aspect !== undefined) {
    const parsed = parseAspectRatio(preferences.aspect);
    return parsed.ok ? sizeForAspect(parsed.ratio, size) : undefined;
  }
  if (preferences.width === undefined && preferences.height === undefined) return undefined;
  const wanted = { width: preferences.width ?? size.baseSize, height: preferences.height ?? size.baseSize };
  if (wanted.width * wanted.height <= size.maxPixels) return wanted;
  const fitted = sizeForAspect(wanted, {
    baseSize: Math.max(wanted.width, wanted.height),
    maxPixels: size.maxPixels,
  });
  notes?.push(
    `Your preferred size ${wanted.width}x${wanted.height} is above this server's limit; ${fitted.width}x${fitted.height} was used.`,
  );
  return fitted;
}

function resolveSize(
  given: ReturnType<RequestAssembler['given']>,
  size: SizeContext,
  issues: ValidationIssue[],
  preferred?: { width: number; height: number },
): { width: number; height: number } {
  const { aspect, width, height } = given;
  if (width === undefined && height === undefined) {
    if (aspect === undefined && preferred !== undefined) return preferred;
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

function layersOf(context: JobRequestContext): readonly DefaultsLayer[] {
  return (
    context.layers ?? [
      ...memberLayer(context.preferences ?? null, context.settings, context.notes),
      ...channelLayer(context.settings, context.channel),
      ...serverLayer(context.settings),
    ]
  );
}

function resolveModel(
  given: Given<string> | undefined,
  context: JobRequestContext,
  issues: ValidationIssue[],
): string {
  const served = context.models;
  const fromLayer = layered(layersOf(context), 'model');
  const chosen: Given<string> | undefined =
    given ??
    (fromLayer === undefined
      ? undefined
      : { value: fromLayer.value, label: `${fromLayer.owner} default model`, fromFlag: false }) ??
    (context.defaults.model === undefined
      ? undefined
      : { value: context.defaults.model, label: "the bot's default model", fromFlag: false });
  if (served?.length === 0) {
    issues.push({ field: 'model', message: unservedModel(chosen?.value ?? '', served) ?? '' });
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
  const problem = served === undefined ? undefined : unservedModel(chosen.value, served);
  if (problem !== undefined) issues.push(limitIssue(chosen, problem));
  return chosen.value;
}

/** Prompt and negative prompt lengths once the flags are out of the prompt. */
function textIssues(
  parsed: ParsedPrompt,
  negativeOption: string | undefined,
): { negativePrompt: string; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const shape = JOB_FIELDS;
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
export function buildJobRequest(options: ImagineOptions, context: JobRequestContext): ImagineDraft {
  const { settings, defaults } = context;
  const layers = layersOf(context);
  refuseChannel(settings, context.channel);
  const { parsed, issues: flagIssues } = collectPromptFlags(options.prompt);
  refuseBannedWords(settings, parsed.prompt);

  const assembler = new RequestAssembler(options, parsed);
  const given = assembler.given();
  const text = textIssues(parsed, given.negativeOption);
  const issues = [...flagIssues, ...assembler.issues, ...text.issues];
  const prompt = parsed.prompt;
  // A negative prompt typed (option or --no) replaces the default ones rather than adding to them.
  const negativePrompt =
    text.negativePrompt !== '' ? text.negativePrompt : (layered(layers, 'negativePrompt')?.value ?? '');

  const guildMaxPixels = settings?.maxPixels;
  const maxPixels = Math.min(defaults.maxPixels, guildMaxPixels ?? Number.POSITIVE_INFINITY);
  const sizeContext: SizeContext = {
    baseSize: defaults.baseSize,
    maxPixels,
    guildBinding: guildMaxPixels !== undefined && guildMaxPixels < defaults.maxPixels,
  };
  const givenSize = given.aspect ?? given.width ?? given.height;
  const size = resolveSize(
    given,
    sizeContext,
    issues,
    givenSize === undefined ? preferredSize(context.preferences, sizeContext, context.notes) : undefined,
  );
  const request: ImagineDraft = {
    v: PROTOCOL_VERSION,
    kind: 'txt2img',
    prompt,
    negativePrompt,
    syntax: settings?.promptSyntax ?? DEFAULT_PROMPT_SYNTAX,
    seed: given.seed?.value ?? (context.randomSeed ?? randomSeed)(),
    steps: capped(given.steps, layered(layers, 'steps')?.value ?? defaults.steps, settings?.maxSteps, issues),
    guidance: given.guidance?.value ?? layered(layers, 'guidance')?.value ?? defaults.guidance,
    width: size.width,
    height: size.height,
    scheduler: given.scheduler?.value ?? layered(layers, 'scheduler')?.value ?? defaults.scheduler,
    rng: 'numpy',
    model: resolveModel(given.model, context, issues),
    count: capped(given.count, layered(layers, 'count')?.value ?? defaults.count, settings?.maxCount, issues),
  };
  if (issues.length > 0) throw new ValidationError(issues);
  return request;
}
