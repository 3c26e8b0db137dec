/** Suggestions for `/imagine model:` from the models workers announce in their heartbeats. */
import type { APIApplicationCommandOptionChoice } from 'discord.js';

/** Discord shows at most this many suggestions. */
export const MAX_SUGGESTIONS = 25;

export interface ModelChoice {
  id: string;
  /** Human name, e.g. "Stable Diffusion 1.5". */
  name?: string;
}

function label(model: ModelChoice): string {
  const text = model.name === undefined || model.name === model.id ? model.id : `${model.name} (${model.id})`;
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}

/**
 * Models whose id or name contains what the user typed (case-insensitive), those starting with it
 * first, then by id; without duplicates, at most 25.
 */
export function modelSuggestions(
  models: readonly ModelChoice[],
  typed: string,
): APIApplicationCommandOptionChoice<string>[] {
  const query = typed.trim().toLowerCase();
  // Several workers announce the same model; the first announcement names it.
  const unique = models.filter(
    (model, index) => models.findIndex((other) => other.id === model.id) === index,
  );
  const rank = (model: ModelChoice): number => {
    const texts = [model.id, model.name ?? ''].map((text) => text.toLowerCase());
    if (texts.some((text) => text.startsWith(query))) return 0;
    return texts.some((text) => text.includes(query)) ? 1 : -1;
  };
  return unique
    .map((model) => ({ model, rank: rank(model) }))
    .filter((entry) => entry.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.model.id.localeCompare(b.model.id))
    .slice(0, MAX_SUGGESTIONS)
    .map(({ model }) => ({ name: label(model), value: model.id }));
}
