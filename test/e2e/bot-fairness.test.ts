/**
 * Fair dispatch seen from Discord: while one guild has 20 /imagine jobs waiting for the only worker
 * slot, a job from a second guild is served next in turn instead of after all of them.
 */
import { describe, expect, it } from 'vitest';
import type { EmulatorInteraction } from '../discord-emulator/index.js';
import { useBotWorld, jobIdOf, resultOf } from '../helpers/bot-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();
const FLOOD_USERS = ['alice', 'bob', 'carol', 'dave'];
const FLOOD_JOBS = 20;
const RESULT_EDIT = 'PATCH /webhooks/:app/:token/messages/@original';

describe.skipIf(!hasNats)(
  `fair dispatch between guilds${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    const world = useBotWorld({
      emulator: {
        users: [...FLOOD_USERS, 'erin'].map((username) => ({ username })),
        guilds: [{ name: 'Flooding' }, { name: 'Quiet' }],
      },
      workers: [{ models: ['sim'], msPerStep: 60, env: { SDBOT_WORKER_SLOTS: '1' } }],
    });

    /** The bot's edits that put a final image (not a progress preview) on the interaction's reply. */
    function resultEdits(interaction: EmulatorInteraction) {
      return world.emulator.calls.filter(
        (recorded) =>
          recorded.route === RESULT_EDIT &&
          recorded.path.includes(interaction.token) &&
          recorded.files.some((file) => file.name !== 'preview.png'),
      );
    }

    function resultAt(interaction: EmulatorInteraction): number {
      const call = resultEdits(interaction)[0];
      if (call === undefined) throw new Error(`no result was posted for interaction ${interaction.id}`);
      return call.at;
    }

    it("serves a second guild's job while the first guild has 20 queued", async () => {
      const [flooding, quiet] = world.emulator.guilds;
      if (flooding === undefined || quiet === undefined) throw new Error('the emulator lacks a guild');

      const floods = await Promise.all(
        Array.from({ length: FLOOD_JOBS }, (_, index) =>
          world.imagine(
            { prompt: `flood ${index} --steps 4 --count 1` },
            { user: FLOOD_USERS[index % FLOOD_USERS.length] ?? 'alice', guildId: flooding.id },
          ),
        ),
      );
      // Every flood job is admitted: its deferred reply was replaced by a queue position or more.
      await Promise.all(
        floods.map((interaction) =>
          interaction.waitForOriginal((message) => !message.loading && message.content !== '', 10_000),
        ),
      );

      const single = await world.imagine(
        { prompt: 'a quiet request --steps 4 --count 1' },
        { user: 'erin', guildId: quiet.id },
      );
      const quietResult = await resultOf(single, 20_000);
      const floodResults = await Promise.all(floods.map((interaction) => resultOf(interaction, 20_000)));

      const servedAt = resultAt(single);
      const floodsStillWaiting = floods.filter((interaction) => resultAt(interaction) > servedAt);
      expect(floodsStillWaiting.length).toBeGreaterThanOrEqual(15);

      // All 21 jobs completed, each once: one result per reply, one completed delivery per job.
      const jobIds = [quietResult, ...floodResults].map(jobIdOf);
      expect(new Set(jobIds).size).toBe(FLOOD_JOBS + 1);
      for (const interaction of [single, ...floods]) expect(resultEdits(interaction)).toHaveLength(1);
      const { client } = await world.jobs();
      const states = await Promise.all(jobIds.map((id) => client.state(id)));
      expect(states.map((state) => state?.status.state)).toEqual(jobIds.map(() => 'completed'));
      const deliveries = (await world.workers[0]?.metrics.registry.getMetricsAsJSON())?.find(
        (metric) => metric.name === 'sdbot_worker_jobs_total',
      );
      const completed = deliveries?.values.find((value) => value.labels.outcome === 'completed')?.value;
      expect(completed).toBe(FLOOD_JOBS + 1);
    }, 30_000);
  },
);
