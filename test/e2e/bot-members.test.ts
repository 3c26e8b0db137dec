/**
 * What members and server admins set, end to end through the Discord emulator, the real bot and a
 * worker on a real nats-server: member preferences and channel defaults with one precedence (one
 * test per level), the NSFW policy on each path, role allow-lists and bans on commands and buttons,
 * and daily quotas shared by two bot replicas.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorInteraction } from '../discord-emulator/index.js';
import { buttonLabels, jobIdOf, privateAnswer, resultOf, useBotWorld } from '../helpers/bot-world.js';
import { adminSettings, clickLabel } from '../helpers/e2e-bot.js';
import { asGenerationJob } from '../helpers/messages.js';
import { FlaggingGenerator } from '../helpers/flagging-generator.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();
describe.skipIf(!hasNats)(
  `member preferences, channel defaults, NSFW policy, roles, bans and quotas${hasNats ? '' : ' (skipped: no nats-server)'}`,
  () => {
    const world = useBotWorld({
      env: { SDBOT_DEFAULT_STEPS: '6', SDBOT_DEFAULT_SCHEDULER: 'pndm' },
      emulator: {
        users: ['alice', 'bob', 'carol', 'dave'].map((username) => ({ username })),
        guilds: [
          {
            name: 'Art',
            channels: [{ name: 'general' }, { name: 'nsfw', nsfw: true }, { name: 'studio' }],
            roles: [{ name: 'artists' }],
            members: [
              { user: 'alice', roles: ['artists'] },
              { user: 'bob' },
              { user: 'carol', roles: ['artists'] },
              { user: 'dave', roles: ['artists'] },
            ],
          },
        ],
      },
      workers: [{ generator: new FlaggingGenerator((prompt) => prompt.includes('risky'), 5) }],
      bots: 2,
    });
    const settings = adminSettings(world);

    async function preferences(
      user: string,
      subcommand: string,
      options: Record<string, string | number | boolean> = {},
    ): Promise<string> {
      const interaction = await world.emulator.sendCommand({
        name: 'preferences',
        subcommand,
        options,
        user,
      });
      return privateAnswer(world, interaction);
    }

    /** The job a finished /imagine ran, as the worker received it. */
    async function jobOf(sent: EmulatorInteraction | Promise<EmulatorInteraction>) {
      const result = await resultOf(await sent);
      const { client } = await world.jobs();
      return asGenerationJob((await client.state(jobIdOf(result)))?.job);
    }

    function imagine(
      user: string,
      prompt: string,
      extra: Record<string, string | number> = {},
      channel?: string,
    ) {
      return world.imagine(
        { prompt, ...extra },
        { user, ...(channel === undefined ? {} : { channelId: world.emulator.channel(channel).id }) },
      );
    }

    describe('where each value comes from', () => {
      beforeAll(async () => {
        expect(
          await preferences('alice', 'set', { steps: 3, count: 1, negative: 'blurry', scheduler: 'ddim' }),
        ).toContain('`steps`: 3');
        expect(
          await settings(
            'set',
            { channel: world.emulator.channel('studio').id, negative: 'text, watermark' },
            'channel-defaults',
          ),
        ).toBe(
          `Channel defaults:\n<#${world.emulator.channel('studio').id}>: negative prompt "text, watermark"`,
        );
        expect(await settings('set', { key: 'default-scheduler', value: 'euler_a' })).toBe(
          '`default-scheduler` is now euler_a (Euler a).',
        );
      });

      afterAll(async () => {
        await preferences('alice', 'reset', { key: 'all' });
        await settings('reset', { key: 'default-scheduler' });
        await settings('reset', { key: 'channel-defaults' });
      });

      it('a flag in the prompt wins over the slash option', async () => {
        expect((await jobOf(imagine('alice', 'a cat --steps 5', { steps: 4 }))).steps).toBe(5);
      });

      it('the slash option wins over the member preference', async () => {
        expect((await jobOf(imagine('alice', 'a cat', { steps: 4 }))).steps).toBe(4);
      });

      it('the member preference wins over the channel default', async () => {
        const job = await jobOf(imagine('alice', 'a cat', {}, 'studio'));
        expect(job).toMatchObject({ negativePrompt: 'blurry', steps: 3, count: 1, scheduler: 'ddim' });
      });

      it('the channel default wins over the server setting and applies where the member set nothing', async () => {
        const job = await jobOf(imagine('bob', 'a cat --count 1', {}, 'studio'));
        expect(job.negativePrompt).toBe('text, watermark');
        expect((await jobOf(imagine('bob', 'a cat --count 1'))).negativePrompt).toBe('');
      });

      it('the server setting wins over the configuration', async () => {
        expect((await jobOf(imagine('bob', 'a cat --count 1'))).scheduler).toBe('euler_a');
        expect((await jobOf(imagine('alice', 'a cat'))).scheduler).toBe('ddim');
      });

      it('the configuration applies where nobody set anything', async () => {
        await settings('reset', { key: 'default-scheduler' });
        const job = await jobOf(imagine('bob', 'a cat --count 1'));
        expect(job).toMatchObject({ scheduler: 'pndm', steps: 6, negativePrompt: '' });
      });

      it('lowers a preference above the server cap to it, with a private note', async () => {
        await settings('set', { key: 'max-steps', value: '2' });
        try {
          const sent = await imagine('alice', 'a capped cat');
          expect((await jobOf(sent)).steps).toBe(2);
          const note = await sent.waitForFollowUp((message) => message.ephemeral);
          expect(note.content).toBe("Your preference steps 3 is above this server's limit; 2 was used.");
          // An explicit value above the cap is still an error.
          expect(await privateAnswer(world, await imagine('alice', 'a cat --steps 3'))).toMatch(
            /--steps 3: must be at most 2 on this server/,
          );
        } finally {
          await settings('reset', { key: 'max-steps' });
        }
      });
    });

    describe('the NSFW policy', () => {
      afterAll(async () => {
        await settings('reset', { key: 'nsfw-policy' });
        await world.emulator.setChannelNsfw('nsfw', true);
      });

      /** Makes a risky pair in `channel` and expects the flagged image replaced, not spoilered. */
      async function expectFlaggedReplacedIn(channel: string): Promise<void> {
        const result = await resultOf(await imagine('alice', 'a risky cat --count 2', {}, channel));
        expect(result.attachments[0]?.filename).not.toMatch(/^SPOILER_/);
        expect(result.embeds[0]?.fields?.find((field) => field.name === 'Safety filter')?.value).toBe(
          '1 of 2 images was withheld by the safety filter.',
        );
      }

      it('replaces flagged images in age-restricted channels of a server that did not opt in', async () => {
        await expectFlaggedReplacedIn('nsfw');
      });

      it('returns flagged images intact, as a spoiler with a content warning, where the server opted in', async () => {
        expect(await settings('set', { key: 'nsfw-policy', value: 'allow-in-age-restricted' })).toBe(
          '`nsfw-policy` is now allow-in-age-restricted.',
        );
        const interaction = await imagine('alice', 'a risky cat --count 2', {}, 'nsfw');
        const result = await resultOf(interaction);
        expect(result.attachments[0]?.filename).toMatch(/^SPOILER_/);
        expect(result.content).toContain('**Content warning**');
        expect(result.embeds[0]?.image).toBeUndefined();
        expect(result.embeds[0]?.fields?.find((field) => field.name === 'Safety filter')?.value).toBe(
          '1 of 2 images was flagged by the safety filter (shown behind a spoiler).',
        );
        const { client } = await world.jobs();
        const jobId = jobIdOf(result);
        expect((await client.state(jobId))?.job.nsfw).toBe('allow');
        // The flagged image is the picture itself, not the flat placeholder.
        const outcome = await client.findOutcome(jobId);
        const flagged = outcome?.type === 'result' ? outcome.images[1] : undefined;
        expect(flagged?.nsfw).toBe(true);
        const stats = await sharp(Buffer.from(await client.readImage(flagged!.image))).stats();
        expect(Math.max(...stats.channels.map((channel) => channel.stdev))).toBeGreaterThan(1);
        // Its buttons work here.
        const variation = await clickLabel(world, result, 'V2', 'alice');
        const varied = await resultOf(variation);
        expect((await client.state(jobIdOf(varied)))?.job.nsfw).toBe('allow');
      });

      it('still replaces them outside age-restricted channels of that server', async () => {
        await expectFlaggedReplacedIn('general');
      });

      it('refuses the buttons of a flagged image once the channel is no longer age-restricted', async () => {
        const result = await resultOf(await imagine('alice', 'a risky cat --count 2', {}, 'nsfw'));
        await world.emulator.setChannelNsfw('nsfw', false);
        const why =
          'This picture was flagged by the safety filter: its buttons work only in age-restricted channels of a server that allows such pictures.';
        for (const label of ['V2', 'U2', 'Re-roll']) {
          if (!buttonLabels(result).includes(label)) continue;
          const click = await clickLabel(world, result, label, 'alice');
          expect(await privateAnswer(world, click)).toBe(why);
        }
      });
    });

    describe('who may create images', () => {
      let artistsRole: string;

      beforeAll(() => {
        artistsRole = world.emulator.guilds[0]!.roles.find((role) => role.name === 'artists')!.id;
      });

      afterAll(async () => {
        await settings('reset', { key: 'roles' });
        await settings('reset', { key: 'banned-users' });
      });

      it('lets only listed roles create images, on /imagine and on every button', async () => {
        const result = await resultOf(await imagine('alice', 'before the roles --count 2'));
        expect(await settings('allow', { role: 'artists' }, 'roles')).toBe(
          `Only members with <@&${artistsRole}> may create images.`,
        );
        const refusal = `This server lets only members with <@&${artistsRole}> create images.`;
        expect(await privateAnswer(world, await imagine('bob', 'not an artist'))).toBe(refusal);
        for (const label of ['V1', 'Re-roll']) {
          const click = await clickLabel(world, result, label, 'bob');
          expect(await privateAnswer(world, click)).toBe(refusal);
        }
        await resultOf(await imagine('alice', 'an artist --count 1'));
      });

      it('refuses banned members on /imagine and on every button', async () => {
        const result = await resultOf(await imagine('alice', 'before the ban --count 2'));
        const carol = world.emulator.user('carol').id;
        expect(await settings('add', { user: 'carol' }, 'banned-users')).toBe(
          `Banned from creating images: <@${carol}>.`,
        );
        const refusal = 'You may not create images in this server.';
        expect(await privateAnswer(world, await imagine('carol', 'banned'))).toBe(refusal);
        for (const label of ['V1', 'Re-roll']) {
          const click = await clickLabel(world, result, label, 'carol');
          expect(await privateAnswer(world, click)).toBe(refusal);
        }
      });
    });

    describe('daily quotas', () => {
      afterAll(async () => {
        await settings('reset', { key: 'server-daily-images' });
        await settings('reset', { key: 'user-daily-images' });
      });

      it('admit exactly the server quota across two bot replicas, and show it', async () => {
        expect(await settings('set', { key: 'server-daily-images', value: '6' })).toBe(
          '`server-daily-images` is now 6.',
        );
        const users = ['alice', 'dave'];
        const interactions = await Promise.all(
          Array.from({ length: 8 }, (_, index) =>
            imagine(users[index % 2]!, `quota ${index} --count 2 --steps 2`),
          ),
        );
        const outcomes = await Promise.all(
          interactions.map((interaction) =>
            world.emulator.waitUntil(
              () => {
                const original = interaction.originalMessage();
                if (original?.ephemeral === true && original.content !== '') return 'refused';
                if (interaction.followUps().some((message) => message.ephemeral)) return 'refused';
                if (original !== undefined && !original.loading && original.components.length > 0)
                  return 'admitted';
                return undefined;
              },
              15_000,
              `interaction ${interaction.id} to be admitted or refused`,
            ),
          ),
        );
        expect(outcomes.filter((outcome) => outcome === 'admitted')).toHaveLength(3);
        const refused = interactions[outcomes.indexOf('refused')]!;
        expect(await privateAnswer(world, refused)).toMatch(
          /^This server has used 6 of 6 images today; 2 more would pass the daily quota\. It resets at 00:00 UTC \(in \d+ (h \d+ )?min\)\.$/,
        );
        expect(await preferences('alice', 'view')).toMatch(
          /\*\*Today\*\* \(UTC\): the server 6 of 6; resets in/,
        );
        const info = await privateAnswer(
          world,
          await world.emulator.sendCommand({ name: 'info', user: 'dave' }),
        );
        expect(info).toMatch(/the server 6 of 6/);
      });

      it('counts each member against their own quota', async () => {
        await settings('reset', { key: 'server-daily-images' });
        await settings('set', { key: 'user-daily-images', value: '1' });
        const used = await privateAnswer(world, await imagine('bob', 'one too many --count 2'));
        expect(used).toMatch(/^You have used 0 of 1 images today; 2 more would pass the daily quota/);
        await resultOf(await imagine('bob', 'just one --count 1 --steps 2'));
        expect(await privateAnswer(world, await imagine('bob', 'another --count 1'))).toMatch(
          /^You have used 1 of 1 images today/,
        );
      });
    });
  },
);
