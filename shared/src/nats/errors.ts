/**
 * Maps nats.js failures onto SdbotError codes, so a refused permission or a missing stream reaches
 * the operator as PERMISSION_DENIED / NOT_FOUND with what was being done, not as a bare timeout.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { PermissionViolationError } from '@nats-io/transport-node';
import { SdbotError } from '../errors.js';

/** True for "stream not found" and "consumer not found" answers of the JetStream API. */
export function isMissingResource(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound)
  );
}

/** True when a compare-and-set write lost the race (the key changed since it was read). */
export function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export function isPermissionViolation(error: unknown): boolean {
  if (error instanceof PermissionViolationError) return true;
  return error instanceof Error && error.cause !== undefined && isPermissionViolation(error.cause);
}

/** Wraps a NATS failure into an SdbotError naming what was being done. */
export function natsFailure(error: unknown, doing: string): SdbotError {
  if (error instanceof SdbotError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  if (isPermissionViolation(error)) {
    return new SdbotError('PERMISSION_DENIED', `${doing}: the NATS user may not do this (${reason})`, {
      cause: error,
    });
  }
  if (isMissingResource(error)) {
    return new SdbotError('NOT_FOUND', `${doing}: ${reason} (run \`sdbot nats setup\`)`, { cause: error });
  }
  return new SdbotError('NATS_UNAVAILABLE', `${doing}: ${reason}`, { cause: error });
}
