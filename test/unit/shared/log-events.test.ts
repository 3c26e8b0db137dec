import { Writable } from 'node:stream';
import { LOG_EVENTS, LOG_EVENT_NAMES, createLogger, type Logger } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';

const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

function messages(log: (logger: Logger) => void): string[] {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  log(createLogger({ name: 'test', level: 'trace', destination }));
  return lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
}

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

  it('are the only messages a logger takes: a free-text message does not compile', () => {
    const logged = messages((logger) => {
      logger.info({ jobId: 'job-1' }, LOG_EVENTS.job.completed);
      logger.child({ jobId: 'job-2' }).warn(LOG_EVENTS.job.retrying);
      // @ts-expect-error: free text is not a log event; the reason belongs in a field.
      logger.warn({ jobId: 'job-3' }, 'job failed, will retry');
      // @ts-expect-error: an event name outside LOG_EVENTS is refused too.
      logger.info('job:exploded');
    });
    // The type check is what refuses them (tsc runs over the tests); at run time pino still writes.
    expect(logged).toEqual(['job:completed', 'job:retrying', 'job failed, will retry', 'job:exploded']);
  });
});
