import { completeJob, deriveJob, jobSchema, type Job } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { exampleGenerationJob, exampleImageRef, exampleJob } from '../../helpers/messages.js';

const identity = {
  id: 'job-child',
  requester: { source: 'cli', guildId: null, channelId: null, userId: 'bob' },
  createdAt: 5,
} as const;
const source = { image: exampleImageRef, index: 1, jobId: 'job-0001' };

describe('deriveJob', () => {
  it('re-rolls with a new seed and keeps every other parameter, source included', () => {
    const parent = exampleGenerationJob({ kind: 'img2img', source, strength: 0.4, rng: 'torch' });
    const child = jobSchema.parse(completeJob(deriveJob(parent, { type: 'reroll', seed: 7 }), identity));
    const { id: _a, requester: _b, createdAt: _c, seed: _d, ...kept } = parent;
    expect(child).toMatchObject({ ...kept, seed: 7, ...identity });
  });

  it('makes a variation from one image: img2img parameters, new seed and count, no seed variation', () => {
    const parent = exampleGenerationJob({ variation: { seed: 3, strength: 0.2 }, kind: 'variation' });
    const draft = deriveJob(parent, { type: 'variation', source, strength: 0.6, seed: 9, count: 2 });
    const child = jobSchema.parse(completeJob(draft, identity));
    expect(child).toMatchObject({
      kind: 'variation',
      prompt: parent.prompt,
      negativePrompt: parent.negativePrompt,
      steps: parent.steps,
      guidance: parent.guidance,
      scheduler: parent.scheduler,
      width: parent.width,
      height: parent.height,
      model: parent.model,
      seed: 9,
      count: 2,
      strength: 0.6,
      source,
    });
    expect(child).not.toHaveProperty('variation');
  });

  it('remixes: the changed parameters, a new seed, everything else kept', () => {
    const parent = exampleGenerationJob({ kind: 'img2img', source, strength: 0.4 });
    const draft = deriveJob(parent, {
      type: 'remix',
      changes: { prompt: 'a lighthouse in fog', steps: 12 },
      seed: 3,
    });
    const child = jobSchema.parse(completeJob(draft, identity));
    expect(child).toMatchObject({
      kind: 'img2img',
      prompt: 'a lighthouse in fog',
      steps: 12,
      seed: 3,
      source,
      strength: 0.4,
      negativePrompt: parent.negativePrompt,
    });
  });

  it('makes an upscale that carries only the model and the image', () => {
    const child: Job = jobSchema.parse(
      completeJob(deriveJob(exampleGenerationJob(), { type: 'upscale', source }), identity),
    );
    expect(child).toEqual({ v: 1, kind: 'upscale', model: 'sd15', source, ...identity });
  });

  it('never carries the parent identity over', () => {
    const draft = deriveJob(jobSchema.parse(exampleJob()), { type: 'reroll', seed: 1 });
    expect(draft).not.toHaveProperty('id');
    expect(draft).not.toHaveProperty('requester');
    expect(draft).not.toHaveProperty('createdAt');
  });
});
