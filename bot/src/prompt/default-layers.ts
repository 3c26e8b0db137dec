/**
 * Where a request's defaults come from when the user typed nothing for a field: layers in order of
 * precedence, then the bot's configuration. Today the one layer is the server's settings; a
 * member's preferences or a channel's defaults become layers in front of it
 * (flag > slash option > member > channel > server > configuration), with nothing else to change.
 */
import type { GuildSettings, SchedulerName } from '@sdbot/shared';

export interface DefaultsLayer {
  /** Whose defaults these are, as messages name them: "this server's", "your", "this channel's". */
  owner: string;
  model?: string;
  scheduler?: SchedulerName;
  steps?: number;
  guidance?: number;
  count?: number;
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
