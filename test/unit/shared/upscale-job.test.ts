import { jobSchema } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { exampleImageRef, exampleJob } from '../../helpers/messages.js';

const source = { image: exampleImageRef, index: 0, jobId: 'job-0000' };

function issues(input: unknown): string[] {
  const parsed = jobSchema.safeParse(input);
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('upscale jobs', () => {
  it('a plain upscale goes to its upscaler, needs no strength and may exceed the diffusion pixel cap', () => {
    const job = exampleJob({
      kind: 'upscale',
      model: 'realesrgan-x4',
      width: 2048,
      height: 2048,
      count: 1,
      source,
      upscale: { upscaler: 'realesrgan-x4', factor: 4, creative: false },
    });
    expect(issues(job)).toEqual([]);
    expect(issues({ ...job, model: 'sd15' })).toEqual(["upscale.upscaler: must be the job's model"]);
  });

  it('a creative upscale is a diffusion job: strength required, pixel cap applies', () => {
    const job = exampleJob({
      kind: 'upscale',
      width: 1024,
      height: 1024,
      count: 1,
      source,
      strength: 0.35,
      upscale: { upscaler: 'realesrgan-x4', factor: 2, creative: true },
    });
    expect(issues(job)).toEqual([]);
    expect(issues({ ...job, width: 2048 })).toEqual([
      'width: width x height must be at most 1048576 pixels (got 2048x1024 = 2097152)',
    ]);
    expect(issues({ ...job, strength: undefined })).toEqual([
      'strength: is required with a source image (a number in 0..1)',
    ]);
  });

  it('refuses an upscale spec on other kinds and factors other than 2 and 4', () => {
    expect(issues(exampleJob({ upscale: { factor: 2, creative: false } }))).toEqual([
      'upscale: is only for upscale jobs (got txt2img)',
    ]);
    const three = exampleJob({
      kind: 'upscale',
      model: 'x3',
      count: 1,
      source,
      upscale: { upscaler: 'x3', factor: 3 as 2, creative: false },
    });
    expect(issues(three).some((issue) => issue.startsWith('upscale.factor'))).toBe(true);
  });
});
