/**
 * Where a request's defaults come from when the user typed nothing for a field: layers in order of
 * precedence (the member's preferences, the channel's defaults, the server's settings), then the
 * bot's configuration: flag > slash option > member > channel > server > configuration. Caps always
 * come from the server and the configuration: a preference above one is lowered to it, with a note.
 */
import type { GuildSettings, SchedulerName, UserPreferences } from '@sdbot/shared';
import type { ChannelRef } from '../requests/policy.js';

export interface DefaultsLayer {
  /** Whose defaults these are, as messages name them: "this server's", "your", "this channel's". */
  owner: string;
  model?: string;
  scheduler?: SchedulerName;
  steps?: number;
  guidance?: number;
  count?: number;
  negativePrompt?: string;
}

type LayeredField = Exclude<keyof DefaultsLayer, 'owner'>;

/** The server's defaults (none in direct messages). */
export function serverLayer(settings: GuildSettings | null): DefaultsLayer[] {
  if (settings === null) return [];
  const layer: DefaultsLayer = { owner: "this server's" };
  if (settings.defaultModel !== undefined) layer.model = settings.defaultModel;
  if (settings.defaultScheduler !== undefined) layer.scheduler = settings.defaultScheduler;
  return [layer];
}

/** A preference used as it is, or lowered to the server's cap with a note for the member. */
function underCap(
  name: string,
  value: number | undefined,
  cap: number | undefined,
  notes: string[] | undefined,
): number | undefined {
  if (value === undefined || cap === undefined || value <= cap) return value;
  const note = `Your preference ${name} ${value} is above this server's limit; ${cap} was used.`;
  // The layers are read once per field that falls back to them: say it once.
  if (notes !== undefined && !notes.includes(note)) notes.push(note);
  return cap;
}

/** The member's own defaults (/preferences); sizes are resolved apart, with the pixel limit. */
export function memberLayer(
  preferences: UserPreferences | null,
  settings: GuildSettings | null,
  notes?: string[],
): DefaultsLayer[] {
  if (preferences === null) return [];
  const layer: DefaultsLayer = { owner: 'your' };
  const steps = underCap('steps', preferences.steps, settings?.maxSteps, notes);
  const count = underCap('count', preferences.count, settings?.maxCount, notes);
  if (steps !== undefined) layer.steps = steps;
  if (count !== undefined) layer.count = count;
  if (preferences.scheduler !== undefined) layer.scheduler = preferences.scheduler;
  if (preferences.negativePrompt !== undefined) layer.negativePrompt = preferences.negativePrompt;
  return [layer];
}

/** The defaults a server's admins set for this channel, or for the channel a thread belongs to. */
export function channelLayer(settings: GuildSettings | null, channel: ChannelRef | null): DefaultsLayer[] {
  if (settings === null || channel === null) return [];
  const parentId = channel.parentId ?? undefined;
  const defaults =
    settings.channelDefaults[channel.id] ??
    (parentId === undefined ? undefined : settings.channelDefaults[parentId]);
  if (defaults === undefined) return [];
  const layer: DefaultsLayer = { owner: "this channel's" };
  if (defaults.model !== undefined) layer.model = defaults.model;
  if (defaults.negativePrompt !== undefined) layer.negativePrompt = defaults.negativePrompt;
  return [layer];
}

/** The first layer's value for the field, with the layer it came from. */
export function layered<K extends LayeredField>(
  layers: readonly DefaultsLayer[],
  field: K,
): { value: NonNullable<DefaultsLayer[K]>; owner: string } | undefined {
  for (const layer of layers) {
    const value = layer[field];
    if (value !== undefined) return { value, owner: layer.owner };
  }
  return undefined;
}
