import { LOG_EVENTS, LOG_EVENT_NAMES } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';

const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

describe('log events', () => {
  it('are noun:verb names spelled from their place in the map', () => {
    for (const [noun, verbs] of Object.entries(LOG_EVENTS)) {
      for (const [verb, event] of Object.entries(verbs)) {
        expect(event).toBe(`${kebab(noun)}:${kebab(verb)}`);
        expect(event).toMatch(/^[a-z]+(-[a-z]+)*:[a-z]+(-[a-z]+)*$/);
      }
    }
  });

  it('name each event once', () => {
    expect(new Set(LOG_EVENT_NAMES).size).toBe(LOG_EVENT_NAMES.length);
    expect(LOG_EVENT_NAMES).toContain('job:failed');
  });
});
