import { SCHEDULER_NAMES, type SchedulerName } from '@sdbot/shared';

/** Names users know from other Stable Diffusion front ends, shown in choices and embeds. */
export const SCHEDULER_LABELS: Readonly<Record<SchedulerName, string>> = {
  pndm: 'PNDM',
  ddim: 'DDIM',
  euler: 'Euler',
  euler_a: 'Euler a',
  lms: 'LMS',
  heun: 'Heun',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
  unipc: 'UniPC',
  lcm: 'LCM',
};

function squash(text: string): string {
  return text
    .toLowerCase()
    .replace(/\+\+/g, 'pp')
    .replace(/[\s_-]+/g, '');
}

/**
 * Reads a scheduler typed by a person: the wire name (`euler_a`) or the label (`Euler a`), in any
 * case, with `-`, `_` or spaces (`euler-a`, `dpm++_2m`). Undefined when it names none.
 */
export function parseSchedulerName(text: string): SchedulerName | undefined {
  const wanted = squash(text);
  return SCHEDULER_NAMES.find((name) => squash(name) === wanted || squash(SCHEDULER_LABELS[name]) === wanted);
}
