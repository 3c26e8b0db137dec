import { deriveJob, jobSchema } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { exampleImageRef, exampleJob } from '../../helpers/messages.js';

const source = { image: exampleImageRef, index: 1, jobId: 'job-0000' };

function issues(input: unknown): string[] {
  const parsed = jobSchema.safeParse(input);
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('upscale jobs', () => {
  const parent = jobSchema.parse(exampleJob({ count: 2 }));

  it('U derives an upscale for the upscaler at the output size, bounded by the side limit only', () => {
    const draft = deriveJob(parent, {
      type: 'upscale',
      source,
      upscaler: 'realesrgan-x4',
      width: 2048,
      height: 2048,
    });
    expect(draft).toEqual({
      v: 1,
      kind: 'upscale',
      model: 'realesrgan-x4',
      source,
      width: 2048,
      height: 2048,
    });
    const job = { ...draft, id: 'job-0002', requester: parent.requester, createdAt: parent.createdAt };
    expect(issues(job)).toEqual([]);
    expect(issues({ ...job, width: 4096 })[0]).toMatch(/^width: must be a multiple of 8 in 64\.\.2048/);
  });

  it('Upscale (Creative) derives an img2img hires fix with the prompt, the image seed and the pixel cap', () => {
    const draft = deriveJob(parent, {
      type: 'hires',
      source,
      seed: 43,
      strength: 0.35,
      width: 1024,
      height: 1024,
      hires: { upscaler: 'realesrgan-x4', factor: 2 },
    });
    expect(draft).toMatchObject({
      kind: 'img2img',
      model: 'sd15',
      prompt: 'a lighthouse at dusk',
      seed: 43,
      count: 1,
      strength: 0.35,
      hires: { upscaler: 'realesrgan-x4', factor: 2 },
    });
    const job = { ...draft, id: 'job-0003', requester: parent.requester, createdAt: parent.createdAt };
    expect(issues(job)).toEqual([]);
    expect(issues({ ...job, width: 2048 })).toEqual([
      'width: width x height must be at most 1048576 pixels (got 2048x1024 = 2097152)',
    ]);
    expect(issues({ ...job, hires: { factor: 3 } }).some((issue) => issue.startsWith('hires.factor'))).toBe(
      true,
    );
  });
});
