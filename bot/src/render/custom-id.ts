/**
 * Button custom_ids. They carry everything a click needs (action, job id, image index), so buttons
 * keep working after a bot restart and on any replica: `sdbot:u:<jobId>:2` upscales the third
 * image (indexes start at 0, like `source.index` in the job schema).
 */
import { LIMITS } from '@sdbot/shared';

export const CUSTOM_ID_PREFIX = 'sdbot';

/** Discord's limit on custom_id length. */
export const CUSTOM_ID_MAX_CHARS = 100;

export type ButtonAction =
  | { type: 'upscale'; jobId: string; index: number }
  | { type: 'variation'; jobId: string; index: number }
  | { type: 'reroll'; jobId: string }
  /** Under an upscaled image: enlarge it again, or redraw it larger (hires fix). */
  | { type: 'upscale-again'; jobId: string }
  | { type: 'creative'; jobId: string }
  /** Under an upscaled image: four variations of it at the drawing's size, near it or further. */
  | { type: 'vary-subtle'; jobId: string }
  | { type: 'vary-strong'; jobId: string }
  /** Under an upscaled image: the remix form, whatever the member's remix preference. */
  | { type: 'remix'; jobId: string }
  | { type: 'delete'; jobId: string }
  | { type: 'cancel'; jobId: string };

export type ButtonActionType = ButtonAction['type'];

const CODES = {
  upscale: 'u',
  variation: 'v',
  reroll: 'r',
  'upscale-again': 'ua',
  creative: 'uc',
  'vary-subtle': 'vs',
  'vary-strong': 'vg',
  remix: 'rx',
  delete: 'd',
  cancel: 'c',
} as const satisfies Record<ButtonActionType, string>;

export function encodeCustomId(action: ButtonAction): string {
  if (!LIMITS.idPattern.test(action.jobId)) {
    throw new TypeError(`job id "${action.jobId}" cannot go into a custom_id`);
  }
  const parts: (string | number)[] = [CUSTOM_ID_PREFIX, CODES[action.type], action.jobId];
  if (action.type === 'upscale' || action.type === 'variation') {
    if (!Number.isInteger(action.index) || action.index < 0 || action.index >= LIMITS.count.max) {
      throw new TypeError(`image index ${action.index} is outside 0..${LIMITS.count.max - 1}`);
    }
    parts.push(action.index);
  }
  return parts.join(':');
}

export type ParsedCustomId =
  | { ok: true; action: ButtonAction }
  /** `foreign`: not one of ours (another bot's button, or a different component); ignore it. */
  | { ok: false; foreign: boolean; reason: string };

function malformed(reason: string): ParsedCustomId {
  return { ok: false, foreign: false, reason };
}

function withoutIndex(
  type:
    'reroll' | 'delete' | 'cancel' | 'upscale-again' | 'creative' | 'vary-subtle' | 'vary-strong' | 'remix',
  jobId: string,
  index: string | undefined,
): ParsedCustomId {
  if (index !== undefined) return malformed(`action "${CODES[type]}" takes no image index`);
  return { ok: true, action: { type, jobId } };
}

function withIndex(type: 'upscale' | 'variation', jobId: string, index: string | undefined): ParsedCustomId {
  const highest = LIMITS.count.max - 1;
  if (index === undefined || !/^\d$/.test(index) || Number(index) > highest) {
    return malformed(`action "${CODES[type]}" needs an image index in 0..${highest}`);
  }
  return { ok: true, action: { type, jobId, index: Number(index) } };
}

/** Reads a custom_id; anything not exactly in the format above is refused, never guessed at. */
export function parseCustomId(customId: string): ParsedCustomId {
  const parts = customId.split(':');
  if (parts[0] !== CUSTOM_ID_PREFIX) return { ok: false, foreign: true, reason: 'not an sdbot button' };
  if (customId.length > CUSTOM_ID_MAX_CHARS) return malformed('longer than 100 characters');
  const [, code = '', jobId = '', index, ...extra] = parts;
  if (extra.length > 0) return malformed('too many parts');
  if (!LIMITS.idPattern.test(jobId)) return malformed('the job id is malformed');
  switch (code) {
    case CODES.upscale:
      return withIndex('upscale', jobId, index);
    case CODES.variation:
      return withIndex('variation', jobId, index);
    case CODES.reroll:
      return withoutIndex('reroll', jobId, index);
    case CODES.delete:
      return withoutIndex('delete', jobId, index);
    case CODES.cancel:
      return withoutIndex('cancel', jobId, index);
    case CODES['upscale-again']:
      return withoutIndex('upscale-again', jobId, index);
    case CODES.creative:
      return withoutIndex('creative', jobId, index);
    case CODES['vary-subtle']:
      return withoutIndex('vary-subtle', jobId, index);
    case CODES['vary-strong']:
      return withoutIndex('vary-strong', jobId, index);
    case CODES.remix:
      return withoutIndex('remix', jobId, index);
    default:
      return malformed(`unknown action "${code}"`);
  }
}
