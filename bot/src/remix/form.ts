/**
 * The remix form: the modal's custom_id (the button action it came from, so a submit works on any
 * replica and after a restart) and the text it is prefilled with, a job's prompt and its flags as a
 * member would type them in /imagine.
 */
import type { GenerationJob } from '@sdbot/shared';
import { encodeCustomId, parseCustomId, type ButtonAction } from '../render/custom-id.js';

/** The buttons whose job the remix form edits before it runs. */
export type RemixAction = Extract<
  ButtonAction,
  { type: 'reroll' | 'variation' | 'vary-subtle' | 'vary-strong' }
>;

/** The modal's custom_id: this prefix, then the button custom_id of the action it runs. */
export const REMIX_MODAL_PREFIX = 'remix:';
export const REMIX_TEXT_FIELD = 'prompt';
/** Discord's limit on a text input's value. */
export const REMIX_TEXT_MAX_CHARS = 4000;

const REMIXABLE: ReadonlySet<ButtonAction['type']> = new Set([
  'reroll',
  'variation',
  'vary-subtle',
  'vary-strong',
]);

export function isRemixAction(action: ButtonAction): action is RemixAction {
  return REMIXABLE.has(action.type);
}

export function encodeRemixModalId(action: RemixAction): string {
  return `${REMIX_MODAL_PREFIX}${encodeCustomId(action)}`;
}

export type ParsedRemixModalId = { ok: true; action: RemixAction } | { ok: false; reason: string };

/** Reads a remix modal's custom_id as strictly as a button's; anything else is refused. */
export function parseRemixModalId(customId: string): ParsedRemixModalId {
  if (!customId.startsWith(REMIX_MODAL_PREFIX)) return { ok: false, reason: 'not a remix form' };
  const parsed = parseCustomId(customId.slice(REMIX_MODAL_PREFIX.length));
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  if (!isRemixAction(parsed.action)) {
    return { ok: false, reason: `action "${parsed.action.type}" has no remix form` };
  }
  return { ok: true, action: parsed.action };
}

/**
 * `a lighthouse --w 768 --h 512 --steps 30 --cfg 7 --scheduler euler_a --model sd15 --count 4 --no
 * blurry`: the job's prompt and settings with the flag names /imagine reads. The seed is left out,
 * since a re-roll or a variation is a new seed unless the member types one; `--no` comes last
 * because it takes every word up to the next flag.
 */
export function remixText(job: GenerationJob): string {
  const flags = [
    `--w ${job.width}`,
    `--h ${job.height}`,
    `--steps ${job.steps}`,
    `--cfg ${job.guidance}`,
    `--scheduler ${job.scheduler}`,
    `--model ${job.model}`,
    `--count ${job.count}`,
  ];
  const negative = job.negativePrompt.trim();
  if (negative !== '') flags.push(`--no ${negative}`);
  return `${job.prompt} ${flags.join(' ')}`.slice(0, REMIX_TEXT_MAX_CHARS);
}
