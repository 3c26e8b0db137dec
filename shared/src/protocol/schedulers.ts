/**
 * How people and other tools name each scheduler of SCHEDULER_NAMES: the label shown in Discord
 * choices and embeds, and AUTOMATIC1111's sampler name written into (and read from) a PNG's
 * `parameters` infotext. They differ on purpose for pndm: PNDM with `skip_prk_steps` (every SD 1.x
 * config) is what A1111 calls PLMS. Karras sigmas use A1111's pre-1.9 combined name, which every
 * reader understands.
 */
import { SCHEDULER_NAMES, type SchedulerName } from './job.js';

export interface SchedulerNaming {
  /** What people know it as from other front ends (`Euler a`). */
  label: string;
  /** A1111's `Sampler:` value. */
  sampler: string;
}

export const SCHEDULERS: Readonly<Record<SchedulerName, SchedulerNaming>> = {
  pndm: { label: 'PNDM', sampler: 'PLMS' },
  ddim: { label: 'DDIM', sampler: 'DDIM' },
  euler: { label: 'Euler', sampler: 'Euler' },
  euler_a: { label: 'Euler a', sampler: 'Euler a' },
  lms: { label: 'LMS', sampler: 'LMS' },
  heun: { label: 'Heun', sampler: 'Heun' },
  dpmpp_2m: { label: 'DPM++ 2M', sampler: 'DPM++ 2M' },
  dpmpp_2m_karras: { label: 'DPM++ 2M Karras', sampler: 'DPM++ 2M Karras' },
  unipc: { label: 'UniPC', sampler: 'UniPC' },
  lcm: { label: 'LCM', sampler: 'LCM' },
};

export function schedulerLabel(name: SchedulerName): string {
  return SCHEDULERS[name].label;
}

export function samplerName(name: SchedulerName): string {
  return SCHEDULERS[name].sampler;
}

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
  return SCHEDULER_NAMES.find((name) => squash(name) === wanted || squash(SCHEDULERS[name].label) === wanted);
}

/** The scheduler behind an A1111 `Sampler:` value (`PLMS` is pndm). Undefined when none runs it. */
export function schedulerForSampler(sampler: string): SchedulerName | undefined {
  const wanted = sampler.trim();
  return SCHEDULER_NAMES.find((name) => SCHEDULERS[name].sampler === wanted);
}
