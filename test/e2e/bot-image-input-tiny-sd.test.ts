/**
 * `/imagine image:` with the real pipeline: the uploaded picture is what the tiny-sd worker starts
 * from, so the same prompt and seed give a different picture with it than without it.
 */
import sharp from 'sharp';
import { createLogger, loadConfig } from '@sdbot/shared';
import { PipelineGenerator } from '@sdbot/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotWorld, resultOf } from '../helpers/bot-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

const hasNats = natsServerAvailable();
const tinySd = sharedFixture('tiny-sd');

describe.skipIf(!hasNats || !tinySd.available)(
  `an uploaded image with a real tiny-sd worker${tinySd.skipNote}${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    let world: BotWorld;

    beforeAll(async () => {
      world = await BotWorld.start({
        workers: [
          {
            generator: await PipelineGenerator.load(
              [tinySd.path],
              loadConfig({ env: {} }),
              createLogger({ name: 'worker', level: 'silent' }),
            ),
          },
        ],
      });
      await world.startBot({}, { DISCORD_CDN_URL: world.emulator.baseUrl });
    });

    afterAll(async () => {
      await world.cleanup();
      expect(world.emulator.errors).toEqual([]);
    });

    it('starts from the uploaded picture: the same prompt and seed draw something else without it', async () => {
      const prompt = 'a lighthouse --steps 6 --count 1 --seed 5 --w 64 --h 64';
      const red = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#e02020' } })
        .png()
        .toBuffer();
      const withImage = await resultOf(
        await world.imagine({
          prompt,
          model: 'tiny-sd',
          image: { filename: 'red.png', contentType: 'image/png', data: red },
          strength: 0.5,
        }),
        60_000,
      );
      const without = await resultOf(await world.imagine({ prompt, model: 'tiny-sd' }), 60_000);
      const pixels = async (data: Buffer | undefined) =>
        sharp(data ?? Buffer.alloc(0))
          .removeAlpha()
          .raw()
          .toBuffer();
      const a = await pixels(withImage.attachments[0]?.data);
      const b = await pixels(without.attachments[0]?.data);
      expect(a.length).toBe(b.length);
      expect(a.equals(b)).toBe(false);
    });
  },
);
