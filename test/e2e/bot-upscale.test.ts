/**
 * U1-U4, Upscale again and Upscale (Creative) through the Discord emulator with the real bot,
 * nats-server and a worker running tiny-sd plus the trained RDN 2x upscaler; and U with no upscaler
 * online.
 */
import { createLogger, loadConfig } from '@sdbot/shared';
import { PipelineGenerator, Upscaler, UpscalingGenerator } from '@sdbot/worker';
import { describe, expect, it } from 'vitest';
import { readRgbImage } from '../../worker/src/image-io.js';
import { readParameters } from '../../worker/src/provenance.js';
import { detectWatermark } from '../../worker/src/watermark/index.js';
import type { EmulatorMessage } from '../discord-emulator/index.js';
import {
  buttonLabels,
  imageSize,
  isResult,
  privateAnswer,
  resultOf,
  useBotWorld,
} from '../helpers/bot-world.js';
import { adminSettings, attachmentOf, buttonId } from '../helpers/e2e-bot.js';
import { UPSCALED_AT_CAP_BUTTONS, UPSCALED_BUTTONS } from '../helpers/upscale-buttons.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

const hasNats = natsServerAvailable();
const tinySd = sharedFixture('tiny-sd');
const rdn = sharedFixture('upscaler-rdn');

describe.skipIf(!hasNats || !tinySd.available || !rdn.available)(
  `upscaling with a real upscaler worker${tinySd.skipNote}${rdn.skipNote}${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    const world = useBotWorld(async () => {
      // Small tiles so even these small images are upscaled in blended tiles.
      const config = loadConfig({ env: { SDBOT_UPSCALE_TILE: '48', SDBOT_UPSCALE_OVERLAP: '16' } });
      const logger = createLogger({ name: 'worker', level: 'silent' });
      const settings = { provider: 'cpu', intraOpThreads: 0, graphOptimization: 'all' } as const;
      const generator = new UpscalingGenerator(
        await PipelineGenerator.load([tinySd.path], config, logger),
        [await Upscaler.load(`${rdn.path}/x2`, settings)],
        config,
        logger,
      );
      // Creative redraws within the pixel budget: 128x128 here.
      return {
        env: { SDBOT_MAX_PIXELS: '16384' },
        workers: [{ generator }],
        botDeps: { progressIntervalMs: 20 },
      };
    });
    const settings = adminSettings(world);

    /** The job behind a result, as the worker received it. */
    async function jobOf(message: EmulatorMessage) {
      const { client } = await world.jobs();
      return (await client.state(upscaledJobId(message)))?.job;
    }

    it('U2 doubles image 2, Upscale again doubles it up to the cap, Creative redraws it larger', async () => {
      expect(await settings('set', { key: 'upscale-max-pixels', value: '256x256' })).toBe(
        '`upscale-max-pixels` is now 65536.',
      );

      const grid = await resultOf(
        await world.imagine({ prompt: 'a lighthouse --steps 4 --count 2 --seed 7 --w 64 --h 64' }),
        60_000,
      );
      expect(await imageSize(attachmentOf(grid))).toEqual({ width: 128, height: 64, format: 'png' });

      const u2 = await world.emulator.clickButton({ message: grid, customId: buttonId(grid, 'U2') });
      const upscaled = await u2.waitForOriginal(isResult, 60_000);
      expect(await imageSize(attachmentOf(upscaled))).toEqual({ width: 128, height: 128, format: 'png' });
      expect(buttonLabels(upscaled)).toEqual(UPSCALED_BUTTONS);
      expect(upscaled.content).toContain('upscaled to 128x128');
      expect(upscaled.embeds[0]?.title).toBe('Upscale of image 2');
      expect(readParameters(attachmentOf(upscaled))).toMatch(
        /^a lighthouse\n.*Seed: 8, Size: 64x64.*, Postprocess upscale by: 2, Postprocess upscaler: x2$/s,
      );

      const again = await world.emulator.clickButton({
        message: upscaled,
        customId: buttonId(upscaled, 'Upscale again'),
      });
      const twice = await again.waitForOriginal(isResult, 60_000);
      const png = attachmentOf(twice);
      expect(await imageSize(png)).toEqual({ width: 256, height: 256, format: 'png' });
      // At the server's 256x256 cap: no Upscale again any more.
      expect(buttonLabels(twice)).toEqual(UPSCALED_AT_CAP_BUTTONS);
      expect(twice.embeds[0]?.title).toBe('Upscale of image 2');
      const rgb = await readRgbImage(png);
      expect(detectWatermark(rgb.rgb, rgb.width, rgb.height).match).toBe(true);

      const creativeClick = await world.emulator.clickButton({
        message: upscaled,
        customId: buttonId(upscaled, 'Upscale (Creative)'),
      });
      const creative = await creativeClick.waitForOriginal(isResult, 60_000);
      expect(await imageSize(attachmentOf(creative))).toEqual({ width: 128, height: 128, format: 'png' });
      expect(creative.content).toContain('upscaled (creative) to 128x128');
      expect(creative.embeds[0]?.title).toBe('Upscale (Creative) of image 2');
      expect(readParameters(attachmentOf(creative))).toMatch(
        /Seed: 8, Size: 128x128.*Denoising strength: 0\.35.*Hires upscale: 2, Hires upscaler: x2/s,
      );
      expect(await jobOf(creative)).toMatchObject({
        kind: 'img2img',
        model: 'tiny-sd',
        strength: 0.35,
        seed: 8,
        hires: { upscaler: 'x2', factor: 2 },
      });

      // Vary (Subtle) and (Strong) on the twice-upscaled image: four new drawings at the drawing's
      // 64x64 from that image, with the prompt of the job that drew it and the server's strengths.
      for (const [label, strength] of [
        ['Vary (Subtle)', 0.35],
        ['Vary (Strong)', 0.75],
      ] as const) {
        const click = await world.emulator.clickButton({ message: twice, customId: buttonId(twice, label) });
        const varied = await click.waitForOriginal(isResult, 60_000);
        expect(await imageSize(attachmentOf(varied))).toEqual({ width: 128, height: 128, format: 'png' });
        expect(await jobOf(varied)).toMatchObject({
          kind: 'variation',
          prompt: 'a lighthouse',
          width: 64,
          height: 64,
          count: 4,
          strength,
          source: { jobId: upscaledJobId(twice), index: 1 },
        });
      }

      // Remix always opens the form, prefilled with the drawing's prompt and flags; its submit makes
      // strong variations of the upscaled image with the edited prompt.
      const remix = await world.emulator.clickButton({ message: twice, customId: buttonId(twice, 'Remix') });
      await remix.waitForResponse();
      const field = (remix.modal?.components ?? []) as { component?: { value?: unknown } }[];
      expect(field[0]?.component?.value).toMatch(/^a lighthouse --w 64 --h 64 --steps \d+ .*--model tiny-sd/);
      const remixed = await world.emulator.submitModal({
        interaction: remix,
        fields: { prompt: 'a lighthouse at night --w 64 --h 64 --count 1' },
      });
      const remixedJob = await jobOf(await remixed.waitForOriginal(isResult, 60_000));
      expect(remixedJob).toMatchObject({
        kind: 'variation',
        prompt: 'a lighthouse at night',
        width: 64,
        height: 64,
        count: 1,
        strength: 0.75,
        source: { jobId: upscaledJobId(twice) },
      });
    });

    it('/info lists the upscaler apart from the models', async () => {
      const answer = await privateAnswer(world, await world.emulator.sendCommand({ name: 'info' }));
      expect(answer).toContain('**Upscalers**: `x2` (2x)');
      expect(answer).not.toMatch(/- `x2`/);
    });
  },
);

function upscaledJobId(message: EmulatorMessage): string {
  const id = /^job (\S+)$/.exec(message.embeds[0]?.footer?.text ?? '')?.[1];
  if (id === undefined) throw new Error('no job footer');
  return id;
}

describe.skipIf(!hasNats)(`U with no upscaler online${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useBotWorld();

  it('posts the image at its size and says that no upscaler is online', async () => {
    const grid = await resultOf(await world.imagine({ prompt: 'a lighthouse --count 2' }));
    const click = await world.emulator.clickButton({ message: grid, customId: buttonId(grid, 'U2') });
    const single = await click.waitForOriginal(isResult, 10_000);
    expect(await imageSize(attachmentOf(single))).toEqual({ width: 64, height: 64, format: 'png' });
    expect(single.content).toContain(
      'No upscaler is online, so this is the image at its generated size (64x64).',
    );
  });
});
