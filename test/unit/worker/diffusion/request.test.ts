import { ValidationError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { validateRequest, type PipelineRequest } from '../../../../worker/src/diffusion/request.js';
import { catRequest } from '../../../helpers/tiny-sd.js';

const base: PipelineRequest = { ...catRequest };

function validationMessage(request: PipelineRequest, maxPixels?: number): string {
  try {
    validateRequest(request, maxPixels);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).message;
  }
  throw new Error('expected a ValidationError');
}

describe('generation request validation', () => {
  it('fills the defaults of a minimal txt2img request', () => {
    expect(validateRequest(base)).toMatchObject({
      negativePrompt: '',
      rng: 'numpy',
      count: 1,
      safetyCheck: true,
      init: undefined,
      variation: undefined,
    });
  });

  it('answers bad values with the same messages as a job on the wire', () => {
    expect(validationMessage({ ...base, steps: 0 })).toBe('steps: must be an integer in 1..150 (got 0)');
    expect(validationMessage({ ...base, width: 100 })).toBe(
      'width: must be a multiple of 8 in 64..2048 (got 100)',
    );
    expect(validationMessage({ ...base, scheduler: 'karras' as PipelineRequest['scheduler'] })).toMatch(
      /^scheduler: must be one of pndm, ddim, euler, euler_a, lms, heun, dpmpp_2m, dpmpp_2m_karras, unipc, lcm/,
    );
    expect(validationMessage({ ...base, count: 5 })).toBe('count: must be an integer in 1..4 (got 5)');
    expect(validationMessage({ ...base, init: { image: 'x.png', strength: 1.5 } })).toBe(
      'strength: must be a number in 0..1 (got 1.5)',
    );
    expect(validationMessage({ ...base, variation: { seed: 1, strength: -1 } })).toBe(
      'variation.strength: must be a number in 0..1 (got -1)',
    );
  });

  it('needs a size for txt2img but takes it from the init image for img2img', () => {
    const { width: _width, height: _height, ...sizeless } = base;
    expect(validationMessage(sizeless)).toBe(
      'width: is required without an init image; height: is required without an init image',
    );
    expect(validateRequest({ ...sizeless, init: { image: 'x.png', strength: 0.5 } })).toMatchObject({
      width: undefined,
      init: { image: 'x.png', strength: 0.5 },
    });
  });

  it('enforces the pixel budget', () => {
    expect(validationMessage({ ...base, width: 1024, height: 1024 }, 512 * 512)).toBe(
      'width: width x height must be at most 262144 pixels (got 1024x1024 = 1048576)',
    );
  });
});
