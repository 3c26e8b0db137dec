/**
 * The last line of defence of every sdbot process (bot, worker, CLI commands): a promise rejected
 * with nobody listening, or an exception nothing caught, is logged once as one redacted line and the
 * process exits non-zero, instead of Node printing a raw stack (which may hold a NATS URL with its
 * password) or, worse, the process running on in an unknown state.
 */
import { toSdbotError } from '../errors.js';
import { LOG_EVENTS, type LogEvent } from '../log-events.js';
import { createLogger, type Logger } from '../logger.js';

/** Exit status of a process stopped by a failure nothing handled. */
export const UNHANDLED_EXIT_CODE = 70;

export interface ProcessGuardOptions {
  logger?: Logger;
  /** Ends the process; replaceable so the behaviour can be observed. */
  exit?: (code: number) => void;
}

export function installProcessGuards({
  logger = createLogger({ name: 'sdbot' }),
  exit = (code) => process.exit(code),
}: ProcessGuardOptions = {}): void {
  let stopping = false;
  const fail = (event: LogEvent, error: unknown) => {
    // A second failure while exiting adds nothing but noise.
    if (stopping) return;
    stopping = true;
    const failure = toSdbotError(error);
    logger.fatal({ err: error, code: failure.code }, event);
    exit(UNHANDLED_EXIT_CODE);
  };
  process.on('unhandledRejection', (reason) => {
    fail(LOG_EVENTS.process.unhandledRejection, reason);
  });
  process.on('uncaughtException', (error) => {
    fail(LOG_EVENTS.process.uncaughtException, error);
  });
}
