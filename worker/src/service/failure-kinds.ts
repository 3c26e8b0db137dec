/**
 * Which failures a retry cannot fix although their code says it might. onnxruntime reports a
 * tensor shape the model cannot take (a size the UNet cannot run, a wrong input layout) as a run
 * error, which the backend turns into INFERENCE_FAILED (retryable, for out-of-memory and device
 * errors); the same job fails the same way on every worker, so it is given up at once.
 */
import { SdbotError, toSdbotError } from '@sdbot/shared';

/** Phrases of onnxruntime's shape and rank errors (kernel checks and input validation). */
const SHAPE_ERROR =
  /invalid dimensions|mismatched dimensions|dimensions must match|dimension mismatch|shape mismatch|incompatible (?:shapes|dimensions)|invalid rank|cannot (?:reshape|broadcast)|can't (?:reshape|broadcast)|(?:inputs?|tensor) shapes? (?:do not|don't) match/i;

export function isShapeError(error: SdbotError): boolean {
  return error.code === 'INFERENCE_FAILED' && SHAPE_ERROR.test(error.message);
}

/** The error as the failure policy should treat it: shape errors become non-retryable. */
export function classifyFailure(error: unknown): SdbotError {
  const failure = toSdbotError(error);
  if (!failure.retryable || !isShapeError(failure)) return failure;
  return new SdbotError(
    failure.code,
    `${failure.message} (the model cannot take this input's shape; retrying would fail the same way)`,
    { cause: failure, retryable: false },
  );
}
