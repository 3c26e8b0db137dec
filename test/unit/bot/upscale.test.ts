import { describe, expect, it } from 'vitest';
import { jobSchema } from '@sdbot/shared';
import { progressView } from '../../../bot/src/delivery/views.js';
import { parseCustomId } from '../../../bot/src/render/custom-id.js';
import { pickUpscaler, upscaleSettings, upscaleTarget } from '../../../bot/src/upscale/sizes.js';
import { UPSCALE_DEFAULTS } from '../../../bot/src/upscale/sizes.js';
import { noUpscalerLine, upscaleComponents } from '../../../bot/src/upscale/view.js';
import { exampleImageRef, exampleJob } from '../../helpers/messages.js';
import { UPSCALED_AT_CAP_BUTTONS, UPSCALED_BUTTONS } from '../../helpers/upscale-buttons.js';

describe('upscale sizes', () => {
  it('doubles a 512x512 image with the default factor and cap', () => {
    expect(upscaleTarget(512, 512, 2, UPSCALE_DEFAULTS.maxPixels)).toEqual({ width: 1024, height: 1024 });
  });

  it('doubles again only up to the 2048x2048 cap, then refuses', () => {
    expect(upscaleTarget(1024, 1024, 2, UPSCALE_DEFAULTS.maxPixels)).toEqual({ width: 2048, height: 2048 });
    expect(upscaleTarget(1536, 1536, 2, UPSCALE_DEFAULTS.maxPixels)).toEqual({ width: 2048, height: 2048 });
    expect(upscaleTarget(2048, 2048, 2, UPSCALE_DEFAULTS.maxPixels)).toBeNull();
  });

  it('keeps the aspect ratio and multiples of 8 under a pixel cap', () => {
    const size = upscaleTarget(704, 384, 4, 1024 * 1024);
    expect(size).not.toBeNull();
    expect((size?.width ?? 0) % 8).toBe(0);
    expect((size?.height ?? 0) % 8).toBe(0);
    expect((size?.width ?? 0) * (size?.height ?? 0)).toBeLessThanOrEqual(1024 * 1024);
    expect((size?.width ?? 0) / (size?.height ?? 1)).toBeCloseTo(704 / 384, 1);
  });

  it('uses the server settings, or 2x, 2048x2048 and 0.35', () => {
    expect(upscaleSettings(null)).toEqual({ factor: 2, maxPixels: 2048 * 2048, creativeStrength: 0.35 });
  });

  it('prefers an upscaler whose scale is the factor', () => {
    const online = [
      { id: 'a', scale: 4 },
      { id: 'b', scale: 2 },
    ];
    expect(pickUpscaler(online, 2)?.id).toBe('b');
    expect(pickUpscaler(online, 3)?.id).toBe('a');
    expect(pickUpscaler<{ id: string; scale: number }>([], 2)).toBeUndefined();
  });
});

describe('upscale buttons', () => {
  const labels = (again: boolean) =>
    upscaleComponents('job-1', { again }).flatMap((row) => row.components.map((button) => button.label));

  it('offer Upscale again while under the cap, Upscale (Creative), Vary (Subtle), Vary (Strong), Remix and Delete', () => {
    expect(labels(true)).toEqual(UPSCALED_BUTTONS);
    expect(labels(false)).toEqual(UPSCALED_AT_CAP_BUTTONS);
  });

  it('keep to five buttons a row, as Discord requires', () => {
    const rows = upscaleComponents('job-1', { again: true });
    expect(rows.map((row) => row.components.length)).toEqual([5, 1]);
  });

  it('carry custom_ids the router reads back', () => {
    const ids = upscaleComponents('job-1', { again: true }).flatMap((row) =>
      row.components.map((button) => button.custom_id),
    );
    expect(ids.map((id) => parseCustomId(id))).toEqual([
      { ok: true, action: { type: 'upscale-again', jobId: 'job-1' } },
      { ok: true, action: { type: 'creative', jobId: 'job-1' } },
      { ok: true, action: { type: 'vary-subtle', jobId: 'job-1' } },
      { ok: true, action: { type: 'vary-strong', jobId: 'job-1' } },
      { ok: true, action: { type: 'remix', jobId: 'job-1' } },
      { ok: true, action: { type: 'delete', jobId: 'job-1' } },
    ]);
    expect(parseCustomId('sdbot:ua:job-1:0').ok).toBe(false);
  });

  it('say when no upscaler is online', () => {
    expect(noUpscalerLine(128, 128)).toBe(
      'No upscaler is online, so this is the image at its generated size (128x128).',
    );
  });
});

describe('upscale progress', () => {
  const source = { image: exampleImageRef, index: 0, jobId: 'job-0000' };
  const progress = { v: 1, jobId: 'job-0001', workerId: 'w-1', step: 3, total: 4, at: 0 } as const;

  it('counts tiles for an upscale and steps for a creative one', () => {
    const base = jobSchema.parse(exampleJob({ count: 1 }));
    const plain = jobSchema.parse({
      v: 1,
      id: 'job-0001',
      kind: 'upscale',
      model: 'x2',
      source,
      width: 1024,
      height: 1024,
      requester: base.requester,
      createdAt: base.createdAt,
    });
    expect(progressView(plain, progress, undefined).content).toContain('upscaling, tile 3/4 (75%)');
    const creative = jobSchema.parse({
      ...exampleJob({ kind: 'img2img', count: 1, width: 1024, height: 1024, source, strength: 0.35 }),
      hires: { upscaler: 'x2', factor: 2 },
    });
    expect(progressView(creative, progress, undefined).content).toContain('step 3/4 (75%)');
  });
});
