/**
 * The whole path with the real Stable Diffusion pipeline: /imagine in the Discord emulator, the bot,
 * NATS, a worker running the tiny-sd model (random weights, 64x64) through onnxruntime, and the
 * grid back in Discord, including the notice for a prompt longer than the 3 chunks of 75 tokens
 * the A1111 syntax (the default) reads.
 */
import { createLogger, loadConfig } from '@sdbot/shared';
import { PipelineGenerator } from '@sdbot/worker';
import { describe, expect, it } from 'vitest';
import { buttonLabels, imageSize, resultOf, useBotWorld } from '../helpers/bot-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

const hasNats = natsServerAvailable();
const tinySd = sharedFixture('tiny-sd');
const LONG_PROMPT = Array.from({ length: 40 }, (_, index) => `lighthouse${index} at dusk`).join(', ');

describe.skipIf(!hasNats || !tinySd.available)(
  `the bot with a real tiny-sd worker${tinySd.skipNote}${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    const world = useBotWorld(async () => ({
      workers: [
        {
          // The generator `sdbot worker` runs: pipeline, safety checker, watermark, provenance.
          generator: await PipelineGenerator.load(
            [tinySd.path],
            loadConfig({ env: {} }),
            createLogger({ name: 'worker', level: 'silent' }),
          ),
        },
      ],
      // The tiny model runs a step in milliseconds: edit often enough to see its progress.
      botDeps: { progressIntervalMs: 20 },
    }));

    it('draws with the real pipeline and says how much of a long prompt was cut', async () => {
      const interaction = await world.imagine({
        prompt: `${LONG_PROMPT} --steps 12 --count 2 --seed 42 --no fog`,
        model: 'tiny-sd',
      });
      const result = await resultOf(interaction, 60_000);
      const grid = result.attachments[0]?.data ?? Buffer.alloc(0);
      expect(await imageSize(grid)).toEqual({ width: 128, height: 64, format: 'png' });
      expect(buttonLabels(result)).toEqual(['U1', 'U2', 'Re-roll', 'V1', 'V2', 'Delete']);
      const fields = Object.fromEntries(
        (result.embeds[0]?.fields ?? []).map((field) => [field.name, field.value]),
      );
      expect(fields).toMatchObject({ Seeds: '42, 43', Steps: '12', Model: 'tiny-sd', Negative: 'fog' });
      expect(fields['Prompt cut short']).toMatch(
        /^The model reads at most 3 chunks of 75 tokens; the last \d+ of this prompt were ignored\.$/,
      );
      const progress = world.emulator.calls.filter(
        (call) =>
          call.route === 'PATCH /webhooks/:app/:token/messages/@original' &&
          call.path.includes(interaction.token) &&
          /step \d+\/\d+/.test((call.body as { content?: string } | undefined)?.content ?? ''),
      );
      expect(progress.length).toBeGreaterThan(0);
    });
  },
);
