/**
 * `/preferences set` and `reset` as pure changes of a member's preferences, and the text of
 * `/preferences view`. Values are validated by the protocol's schema, so errors name the option.
 */
import {
  schedulerLabel,
  userPreferencesSchema,
  ValidationError,
  type SchedulerName,
  type UserPreferences,
} from '@sdbot/shared';
import type { PREFERENCE_KEYS } from '../commands/definitions.js';
import { describeWait, type DailyLimits, type QuotaUsage } from '../quota/daily-quota.js';

/** What a member typed in `/preferences set`; only given options change. */
export interface PreferenceInput {
  negative?: string;
  steps?: number;
  aspect?: string;
  width?: number;
  height?: number;
  scheduler?: SchedulerName;
  count?: number;
  remix?: boolean;
}

/** Schema fields to the option that sets them, so errors say `negative`, not `negativePrompt`. */
const OPTION_OF_FIELD: Readonly<Record<string, string>> = { negativePrompt: 'negative' };

function checked(value: UserPreferences): UserPreferences {
  const parsed = userPreferencesSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? 'preferences');
      return { field: OPTION_OF_FIELD[field] ?? field, message: issue.message };
    }),
  );
}

export function applyPreferences(current: UserPreferences, input: PreferenceInput): UserPreferences {
  const next: UserPreferences = { ...current };
  if (input.negative !== undefined) {
    const negative = input.negative.trim();
    if (negative === '') delete next.negativePrompt;
    else next.negativePrompt = negative;
  }
  if (input.steps !== undefined) next.steps = input.steps;
  if (input.scheduler !== undefined) next.scheduler = input.scheduler;
  if (input.count !== undefined) next.count = input.count;
  if (input.remix !== undefined) next.remix = input.remix;
  // An aspect ratio and a size are two ways to say one thing: the newer replaces the older.
  if (input.aspect !== undefined) {
    next.aspect = input.aspect;
    delete next.width;
    delete next.height;
  }
  if (input.width !== undefined || input.height !== undefined) {
    delete next.aspect;
    if (input.width !== undefined) next.width = input.width;
    if (input.height !== undefined) next.height = input.height;
  }
  return checked(next);
}

export type PreferenceKey = (typeof PREFERENCE_KEYS)[number];

export function resetPreference(current: UserPreferences, key: PreferenceKey): UserPreferences {
  const next: UserPreferences = { ...current };
  switch (key) {
    case 'all':
      return { v: current.v, userId: current.userId, remix: false, updatedAt: current.updatedAt };
    case 'negative':
      delete next.negativePrompt;
      break;
    case 'size':
      delete next.aspect;
      delete next.width;
      delete next.height;
      break;
    case 'remix':
      next.remix = false;
      break;
    case 'steps':
      delete next.steps;
      break;
    case 'scheduler':
      delete next.scheduler;
      break;
    case 'count':
      delete next.count;
      break;
  }
  return next;
}

function sizeText(preferences: UserPreferences): string | undefined {
  if (preferences.aspect !== undefined) return `aspect ${preferences.aspect}`;
  if (preferences.width === undefined && preferences.height === undefined) return undefined;
  return `${preferences.width ?? 'auto'}x${preferences.height ?? 'auto'}`;
}

export interface QuotaView {
  limits: DailyLimits;
  usage: QuotaUsage;
  now: number;
}

/** The member's quota line for this server, or undefined when the server sets none. */
export function formatQuota({ limits, usage, now }: QuotaView): string | undefined {
  const parts: string[] = [];
  if (limits.user !== undefined) parts.push(`you have used ${usage.user} of ${limits.user} images`);
  if (limits.server !== undefined) parts.push(`the server ${usage.server} of ${limits.server}`);
  if (parts.length === 0) return undefined;
  return `**Today** (UTC): ${parts.join(', ')}; resets in ${describeWait(usage.resetsAt - now)}.`;
}

export function formatPreferences(preferences: UserPreferences, quota?: QuotaView): string {
  const lines = ['**Your preferences** (kept in every server; a server may cap them)'];
  const rows: [string, string | undefined][] = [
    ['negative', preferences.negativePrompt],
    ['steps', preferences.steps?.toString()],
    ['size', sizeText(preferences)],
    [
      'scheduler',
      preferences.scheduler === undefined
        ? undefined
        : `${preferences.scheduler} (${schedulerLabel(preferences.scheduler)})`,
    ],
    ['count', preferences.count?.toString()],
  ];
  for (const [key, value] of rows) lines.push(`\`${key}\`: ${value ?? 'not set'}`);
  lines.push(`\`remix\`: ${preferences.remix ? 'on' : 'off'}`);
  const quotaLine = quota === undefined ? undefined : formatQuota(quota);
  if (quotaLine !== undefined) lines.push(quotaLine);
  lines.push('Change with /preferences set, undo with /preferences reset.');
  return lines.join('\n');
}
