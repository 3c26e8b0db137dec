import { SdbotError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../../../worker/src/service/failure-kinds.js';

describe('failure kinds', () => {
  it.each([
    'Non-zero status code returned while running Concat node. Non concat axis dimensions must match: Axis 3 has mismatched dimensions of 33 and 32',
    'Got invalid dimensions for input: sample for the following indices index: 2 Got: 65 Expected: 64',
    'Invalid rank for input: encoder_hidden_states Got: 2 Expected: 3',
    'Attempting to broadcast an axis by a dimension other than 1. 56 by 64 - cannot broadcast',
  ])('a shape error from onnxruntime is never retryable: %s', (message) => {
    const failure = classifyFailure(new SdbotError('INFERENCE_FAILED', `unet.onnx: ${message}`));
    expect(failure).toMatchObject({ code: 'INFERENCE_FAILED', retryable: false });
    expect(failure.message).toContain(message);
  });

  it('other inference failures (out of memory, a lost device) stay retryable', () => {
    for (const message of [
      'Failed to allocate memory for requested buffer of size 123',
      'CUDA error: device lost',
    ]) {
      expect(classifyFailure(new SdbotError('INFERENCE_FAILED', message)).retryable).toBe(true);
    }
    expect(classifyFailure(new Error('boom'))).toMatchObject({ code: 'INTERNAL', retryable: false });
  });
});
