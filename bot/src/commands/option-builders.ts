/**
 * Builders of the slash-command options that /imagine and /preferences share in shape: a number
 * bounded by a protocol range (LIMITS) and the sampler choice.
 */
import type {
  SlashCommandIntegerOption,
  SlashCommandNumberOption,
  SlashCommandStringOption,
} from 'discord.js';
import { SCHEDULER_NAMES, schedulerLabel } from '@sdbot/shared';

interface Range {
  min: number;
  max: number;
}

/** A whole number within `range`. */
export function integerInRange(name: string, description: string, range: Range) {
  return (option: SlashCommandIntegerOption) =>
    option.setName(name).setDescription(description).setMinValue(range.min).setMaxValue(range.max);
}

/** A decimal number within `range`. */
export function numberInRange(name: string, description: string, range: Range) {
  return (option: SlashCommandNumberOption) =>
    option.setName(name).setDescription(description).setMinValue(range.min).setMaxValue(range.max);
}

/** One of the samplers, shown by their labels. */
export function schedulerChoice(name: string, description: string) {
  return (option: SlashCommandStringOption) =>
    option
      .setName(name)
      .setDescription(description)
      .addChoices(
        SCHEDULER_NAMES.map((scheduler) => ({ name: schedulerLabel(scheduler), value: scheduler })),
      );
}
