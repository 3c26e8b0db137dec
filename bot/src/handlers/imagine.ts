/**
 * `/imagine`: checks what it can without NATS and refuses privately at once; otherwise defers
 * publicly, applies the guild's settings and the workers' models, and submits. Model suggestions
 * for the `model` option come from the workers online.
 */
import {
  ApplicationCommandOptionType,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
} from 'discord.js';
import { ValidationError, type ValidationIssue } from '@sdbot/shared';
import { modelSuggestions } from '../commands/autocomplete.js';
import { IMAGINE_OPTIONS } from '../commands/definitions.js';
import { buildJobRequest, checkImagineInput, type ImagineOptions } from '../prompt/job-request.js';
import type { BotContext } from '../service/context.js';
import { readImageInput, withSourceImage } from './image-input.js';
import { deferPublicly } from './respond.js';
import { requestContext, requestJob } from '../requests/request-job.js';

type StringOption = 'prompt' | 'negative' | 'aspect' | 'scheduler' | 'model';
type NumberOption = 'width' | 'height' | 'steps' | 'guidance' | 'seed' | 'count';

const STRING_OPTIONS: readonly StringOption[] = ['prompt', 'negative', 'aspect', 'scheduler', 'model'];
const NUMBER_OPTIONS: readonly NumberOption[] = ['width', 'height', 'steps', 'guidance', 'seed', 'count'];

/**
 * The options as typed. Values of the wrong type (a stale registration, a hand-made request) are
 * reported by option name instead of breaking the handler.
 */
export function readImagineOptions(interaction: ChatInputCommandInteraction): ImagineOptions {
  const issues: ValidationIssue[] = [];
  const known = new Set<string>(Object.values(IMAGINE_OPTIONS));
  const values = new Map(interaction.options.data.map((option) => [option.name, option]));
  for (const name of values.keys()) {
    if (!known.has(name)) issues.push({ field: name, message: 'is not an option of /imagine' });
  }
  const text = (name: StringOption): string | undefined => {
    const option = values.get(name);
    if (option === undefined) return undefined;
    if (option.type === ApplicationCommandOptionType.String && typeof option.value === 'string')
      return option.value;
    issues.push({ field: name, message: 'must be text' });
    return undefined;
  };
  const number = (name: NumberOption): number | undefined => {
    const option = values.get(name);
    if (option === undefined) return undefined;
    if (typeof option.value === 'number' && Number.isFinite(option.value)) return option.value;
    issues.push({ field: name, message: 'must be a number' });
    return undefined;
  };
  const prompt = text('prompt');
  if (prompt === undefined && !values.has('prompt')) issues.push({ field: 'prompt', message: 'is required' });
  const options: ImagineOptions = { prompt: prompt ?? '' };
  for (const name of STRING_OPTIONS) {
    if (name === 'prompt') continue;
    const value = text(name);
    if (value !== undefined) options[name] = value;
  }
  for (const name of NUMBER_OPTIONS) {
    const value = number(name);
    if (value !== undefined) options[name] = value;
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return options;
}

export async function handleImagine(
  ctx: BotContext,
  interaction: ChatInputCommandInteraction,
): Promise<void> {
  const options = readImagineOptions(interaction);
  const image = readImageInput(interaction);
  checkImagineInput(options, ctx.jobDefaults);
  if (!(await deferPublicly(interaction))) return;
  const context = await requestContext(ctx, interaction);
  const notes: string[] = [];
  const draft = buildJobRequest(options, { ...context, defaults: ctx.jobDefaults, notes });
  const job = image === undefined ? draft : await withSourceImage(ctx, interaction, draft, image, context);
  await requestJob(ctx, interaction, job, context, notes);
}

export async function handleImagineAutocomplete(
  ctx: BotContext,
  interaction: AutocompleteInteraction,
): Promise<void> {
  const focused = interaction.options.getFocused(true);
  if (focused.name !== IMAGINE_OPTIONS.model) {
    await interaction.respond([]);
    return;
  }
  const workers = await ctx.jobs.liveWorkers();
  const models = workers.flatMap((worker) =>
    worker.models.flatMap((model) =>
      model.upscaler === undefined ? [{ id: model.id, name: model.name }] : [],
    ),
  );
  await interaction.respond(modelSuggestions(models, focused.value));
}
