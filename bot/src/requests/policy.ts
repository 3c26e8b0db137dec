/**
 * The server's policy for every job the bot is asked for, whatever asked: /imagine, the V and
 * re-roll buttons, and any button, modal or context command added later. Each rule looks at the
 * job's draft and where it was asked; a refusal throws RequestRefusedError, a value over a limit
 * becomes a ValidationError naming the field. Rate limits are taken afterwards, in submitJob, so a
 * refused request costs no slot.
 *
 * A new rule is one more entry in SERVER_POLICY; what it needs to know goes into PolicyContext.
 * Daily quotas are counted in requestJob, after every rule passed, since counting is a write.
 */
import {
  isGenerationJob,
  ValidationError,
  type GuildSettings,
  type JobDraft,
  type UserPreferences,
  type ValidationIssue,
} from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';
import { findBannedWord } from '../prompt/banned-words.js';
import { refuseMember } from '../settings/access.js';

/** Where a request was made; `parentId` is the channel a thread belongs to. */
export interface ChannelRef {
  id: string;
  parentId?: string | null;
}

export interface PolicyContext {
  /** Who asks. */
  userId: string;
  /** The member's role ids (empty in direct messages), for role allow-lists. */
  roles: readonly string[];
  /** The guild's settings; null in direct messages. */
  settings: GuildSettings | null;
  /** Null in direct messages. */
  channel: ChannelRef | null;
  /** Model ids workers serve right now. */
  models: readonly string[];
  /** The bot's own pixel limit (SDBOT_MAX_PIXELS). */
  maxPixels: number;
  /** True in an age-restricted channel (or a thread of one). */
  ageRestricted: boolean;
  /** The member's own defaults; null when they have set none. */
  preferences: UserPreferences | null;
}

/** True when flagged images of a job asked for here may come back intact (as spoilers). */
export function nsfwAllowedHere({
  settings,
  ageRestricted,
}: Pick<PolicyContext, 'settings' | 'ageRestricted'>) {
  return ageRestricted && settings?.nsfwPolicy === 'allow-in-age-restricted';
}

/**
 * Returns the issues of values over a limit; throws RequestRefusedError to refuse outright. A rule
 * may be async (a daily quota reads KV).
 */
export type PolicyRule = (
  draft: JobDraft,
  context: PolicyContext,
) => ValidationIssue[] | Promise<ValidationIssue[]>;

/** Refuses channels outside the guild's allow-list (a thread follows its parent channel). */
export function refuseChannel(settings: GuildSettings | null, channel: ChannelRef | null): void {
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

/** Refuses a prompt with one of the guild's banned words (the negative prompt may name them). */
export function refuseBannedWords(settings: GuildSettings | null, prompt: string): void {
  if (settings === null) return;
  const word = findBannedWord(prompt, settings.bannedWords);
  if (word !== undefined) {
    throw new RequestRefusedError('banned-word', `This server does not allow "${word}" in prompts.`);
  }
}

/** Why a model cannot be used now, or undefined when workers serve it. */
export function unservedModel(model: string, served: readonly string[]): string | undefined {
  if (served.length === 0) return 'no worker is serving any model right now; try again later';
  if (!served.includes(model)) return `is not served right now; available: ${served.join(', ')}`;
  return undefined;
}

const memberAccess: PolicyRule = (_draft, { settings, userId, roles }) => {
  refuseMember(settings, { userId, roleIds: roles });
  return [];
};

const allowedChannel: PolicyRule = (_draft, { settings, channel }) => {
  refuseChannel(settings, channel);
  return [];
};

const bannedWords: PolicyRule = (draft, { settings }) => {
  if (isGenerationJob(draft)) refuseBannedWords(settings, draft.prompt);
  return [];
};

const servedModel: PolicyRule = (draft, { models }) => {
  // An upscale names a super-resolution model; submitting checks that one is online.
  if (draft.kind === 'upscale') return [];
  const problem = unservedModel(draft.model, models);
  return problem === undefined ? [] : [{ field: 'model', message: `${draft.model} ${problem}` }];
};

/** The guild's caps on steps, images and pixels, and the bot's pixel limit. */
const caps: PolicyRule = (draft, { settings, maxPixels }) => {
  if (!isGenerationJob(draft)) return [];
  const issues: ValidationIssue[] = [];
  const over = (field: string, value: number, max: number | undefined) => {
    if (max !== undefined && value > max) {
      issues.push({ field, message: `must be at most ${max} on this server (got ${value})` });
    }
  };
  over('steps', draft.steps, settings?.maxSteps);
  over('count', draft.count, settings?.maxCount);
  const limit = Math.min(maxPixels, settings?.maxPixels ?? Number.POSITIVE_INFINITY);
  const pixels = draft.width * draft.height;
  if (pixels > limit) {
    issues.push({
      field: 'width x height',
      message: `must be at most ${limit} pixels${limit < maxPixels ? ' on this server' : ''} (got ${draft.width}x${draft.height} = ${pixels})`,
    });
  }
  return issues;
};

/** In order: refusals first (they say the most), then every value over a limit at once. */
export const SERVER_POLICY: readonly PolicyRule[] = [
  memberAccess,
  allowedChannel,
  bannedWords,
  servedModel,
  caps,
];

/** Throws when the server's policy does not allow this job here; rules run in order. */
export async function enforcePolicy(
  draft: JobDraft,
  context: PolicyContext,
  rules: readonly PolicyRule[] = SERVER_POLICY,
): Promise<void> {
  const issues: ValidationIssue[] = [];
  for (const rule of rules) issues.push(...(await rule(draft, context)));
  if (issues.length > 0) throw new ValidationError(issues);
}
