/**
 * Bad input never crashes the bot: malformed flags and options, requests the server's settings
 * refuse, stale command registrations (wrong option types, unknown options, a /settings without
 * its permission gate) and hand-made buttons all get a clear private answer naming what is wrong,
 * and the bot keeps working.
 */
import {
  ApplicationCommandOptionType,
  ButtonStyle,
  ComponentType,
  InteractionResponseType,
  REST,
  Routes,
  type APIApplicationCommandBasicOption,
  type APIMessage,
} from 'discord.js';
import { describe, expect, it } from 'vitest';
import type { CommandOptionValue, EmulatorInteraction } from '../discord-emulator/index.js';
import { privateAnswer, resultOf, useBotWorld, type BotWorld } from '../helpers/bot-world.js';
import { ADMIN } from '../helpers/e2e-bot.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();

interface Case {
  /** What the user does wrong. */
  what: string;
  send: (world: BotWorld) => Promise<EmulatorInteraction>;
  answer: RegExp;
}

function imagine(what: string, options: Record<string, CommandOptionValue>, answer: RegExp): Case {
  return { what, send: (world) => world.imagine(options), answer };
}

function prompt(text: string, answer: RegExp): Case {
  return imagine(`prompt "${text.slice(0, 60)}"`, { prompt: text }, answer);
}

function settings(
  what: string,
  subcommand: string,
  options: Record<string, CommandOptionValue>,
  answer: RegExp,
): Case {
  return {
    what,
    send: (world) =>
      world.emulator.sendCommand({ name: 'settings', subcommand, options, memberPermissions: [...ADMIN] }),
    answer,
  };
}

/** Flags and options a user can type with the current registration; refused before deferring. */
const TYPED: Case[] = [
  prompt('a cat --ar 7:0', /--ar 7:0: aspect must be W:H with positive integers/),
  prompt('a cat --ar 10:1', /--ar 10:1: aspect must be between 1:4 and 4:1/),
  prompt('a cat --ar wide', /--ar wide: aspect must be W:H/),
  prompt('a cat --seed abc', /--seed abc: must be an integer in 0\.\.4294967295/),
  prompt('a cat --seed -1', /--seed -1: must be an integer in 0\.\.4294967295/),
  prompt('a cat --seed 99999999999', /--seed 99999999999: must be an integer/),
  prompt('a cat --steps 0', /--steps 0: must be an integer in 1\.\.150/),
  prompt('a cat --steps 500', /--steps 500: must be an integer in 1\.\.150/),
  prompt('a cat --steps 2.5', /--steps 2\.5: must be an integer/),
  prompt('a cat --cfg 31', /--cfg 31: must be a number in 0\.\.30/),
  prompt('a cat --cfg lots', /--cfg lots: must be a number/),
  prompt('a cat --scheduler turbo', /--scheduler turbo: must be one of pndm, ddim/),
  prompt('a cat --count 5', /--count 5: must be an integer in 1\.\.4/),
  prompt('a cat --count 0', /--count 0: must be an integer in 1\.\.4/),
  prompt('a cat --w 65', /--w 65: must be a multiple of 64/),
  prompt('a cat --h 4000', /--h 4000: must be a multiple of 64 in 64\.\.2048/),
  prompt('a cat --model no/such', /--model no\/such: must be a model id/),
  prompt('a cat --fast', /--fast: unknown flag; known flags: --ar/),
  prompt('a cat --steps', /--steps: needs a value, e\.g\. --steps 30/),
  prompt('a cat --no', /--no: needs a value/),
  prompt('--ar 16:9 --seed 3', /prompt: is empty: describe the picture before the flags/),
  prompt('a cat --steps 10 --steps 20', /--steps 20: --steps 10 was already given; keep one/),
  prompt('a cat \u2014ar 0:0', /--ar 0:0: aspect must be W:H/),
  prompt('a cat --w 128 --h 128', /--w 128 --h 128: width x height must be at most 4096 pixels/),
  imagine('width not a multiple of 64', { prompt: 'a cat', width: 65 }, /^width: must be a multiple of 64/),
  imagine(
    'too many pixels',
    { prompt: 'a cat', width: 2048, height: 2048 },
    /width height: width x height must be at most 4096/,
  ),
  imagine(
    'aspect and both sides',
    { prompt: 'a cat', aspect: '16:9', width: 64, height: 64 },
    /^aspect: conflicts with width and height/,
  ),
  prompt('a cat --ar 2:1 --steps 0 --count 9', /• --steps 0: .*\n• --count 9: /s),
];

/** Requests this server's settings refuse: checked after deferring, answered privately. */
const REFUSED_BY_SETTINGS: Case[] = [
  prompt('a gore scene', /This server does not allow "gore" in prompts\./),
  prompt('a cat --model nosuch', /--model nosuch: is not served right now; available: sim/),
  prompt('a cat --steps 20', /--steps 20: must be at most 10 on this server/),
  prompt('a cat --count 3', /--count 3: must be at most 2 on this server/),
  {
    what: 'a channel the server does not allow',
    send: (world) => world.imagine({ prompt: 'a cat' }, { channelId: world.emulator.channel('nsfw').id }),
    answer: /This server allows \/imagine only in <#\d+>\./,
  },
  settings(
    'a setting that is not a number',
    'set',
    { key: 'max-steps', value: 'many' },
    /^max-steps: must be an integer in 1\.\.150/,
  ),
  settings(
    'a limit above the bot',
    'set',
    { key: 'guild-burst', value: '5000' },
    /^guild-burst: must be at most \d+, this bot's limit/,
  ),
  settings(
    'an NSFW policy that does not exist',
    'set',
    { key: 'nsfw-policy', value: 'maybe' },
    /^nsfw-policy: must be one of block, allow-in-age-restricted/,
  ),
  settings(
    'a variation strength above 1',
    'set',
    { key: 'strong-strength', value: '1.5' },
    /^strong-strength: must be a number in 0\.\.1/,
  ),
];

/** What only a stale registration (an older version's command shapes) lets through. */
const STALE: Case[] = [
  imagine('steps as text', { prompt: 'a cat', steps: 'ten' }, /^steps: must be a number/),
  imagine(
    'an option /imagine does not have',
    { prompt: 'a cat', style: 'vivid' },
    /^style: is not an option of \/imagine/,
  ),
  imagine('no prompt at all', { negative: 'blur' }, /^prompt: is required/),
  imagine(
    'a negative prompt over 2000 characters',
    { prompt: 'a cat', negative: 'x'.repeat(2100) },
    /^negative: must be text of 0\.\.2000 characters/,
  ),
  {
    what: '/settings from a member without Manage Server',
    send: (world) => world.emulator.sendCommand({ name: 'settings', subcommand: 'view', user: 'bob' }),
    answer: /^\/settings needs the Manage Server permission\.$/,
  },
];

function staleOption(option: APIApplicationCommandBasicOption): APIApplicationCommandBasicOption {
  if (option.name === 'steps')
    return { type: ApplicationCommandOptionType.String, name: 'steps', description: 'Steps' };
  if (option.name === 'prompt')
    return { type: ApplicationCommandOptionType.String, name: 'prompt', description: 'What' };
  if (option.name === 'negative')
    return { type: ApplicationCommandOptionType.String, name: 'negative', description: 'Not' };
  return option;
}

describe.skipIf(!hasNats)(`malformed input${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useBotWorld({ workers: [{ models: ['sim'], msPerStep: 5 }] });

  async function expectPrivateAnswer(testCase: Case): Promise<EmulatorInteraction> {
    const interaction = await testCase.send(world);
    const answer = await privateAnswer(world, interaction);
    expect(answer, testCase.what).toMatch(testCase.answer);
    // Nothing public is left behind: the "thinking..." reply of a deferred request is removed.
    const original = interaction.originalMessage();
    expect(original === undefined || original.ephemeral, testCase.what).toBe(true);
    return interaction;
  }

  it(`answers ${TYPED.length} malformed flags and options privately, before deferring`, async () => {
    for (const testCase of TYPED) {
      const interaction = await expectPrivateAnswer(testCase);
      expect(interaction.response?.type, testCase.what).toBe(
        InteractionResponseType.ChannelMessageWithSource,
      );
    }
  });

  it(`answers ${REFUSED_BY_SETTINGS.length} requests the server's settings refuse privately`, async () => {
    const { emulator } = world;
    const setup = [
      { subcommandGroup: 'banned-words', subcommand: 'add', options: { words: 'gore, blood bath' } },
      { subcommand: 'set', options: { key: 'max-steps', value: '10' } },
      { subcommand: 'set', options: { key: 'max-count', value: '2' } },
      {
        subcommandGroup: 'channels',
        subcommand: 'allow',
        options: { channel: emulator.channel('general').id },
      },
    ];
    for (const change of setup) {
      const interaction = await emulator.sendCommand({
        name: 'settings',
        ...change,
        memberPermissions: [...ADMIN],
      });
      expect(await privateAnswer(world, interaction)).not.toMatch(/wrong|must/);
    }
    for (const testCase of REFUSED_BY_SETTINGS) await expectPrivateAnswer(testCase);
  });

  it(`answers ${STALE.length} requests only a stale registration lets through`, async () => {
    await world.registerRaw((commands) =>
      commands.map((command) => {
        if (command.name === 'settings') return { ...command, default_member_permissions: null };
        if (command.name !== 'imagine') return command;
        const options = (command.options ?? []).map((option) =>
          staleOption(option as APIApplicationCommandBasicOption),
        );
        return {
          ...command,
          options: [
            ...options,
            { type: ApplicationCommandOptionType.String, name: 'style', description: 'Style' },
          ],
        };
      }),
    );
    for (const testCase of STALE) await expectPrivateAnswer(testCase);
  });

  it('answers buttons with unreadable custom_ids, or whose job is gone, privately', async () => {
    const rest = new REST({ api: world.emulator.apiUrl }).setToken(world.emulator.botToken);
    const channelId = world.emulator.channel('general').id;
    const customIds = [
      'sdbot:x:job-1',
      'sdbot:u:job-1:9',
      'sdbot:u:discord-404:0',
      'sdbot:c:discord-404',
      'sdbot:r:discord-404',
    ];
    const posted = (await rest.post(Routes.channelMessages(channelId), {
      body: {
        content: 'buttons of an older version',
        components: [
          {
            type: ComponentType.ActionRow,
            components: customIds.map((customId, index) => ({
              type: ComponentType.Button,
              style: ButtonStyle.Secondary,
              label: `B${index}`,
              custom_id: customId,
            })),
          },
        ],
      },
    })) as APIMessage;
    const expected = [
      /does not work any more \(unknown action "x"\)/,
      /does not work any more \(action "u" needs an image index in 0\.\.3\)/,
      /This picture has expired/,
      /This picture has expired/,
      /This picture has expired/,
    ];
    for (const [index, customId] of customIds.entries()) {
      const click = await world.emulator.clickButton({ message: posted.id, customId });
      expect(await privateAnswer(world, click), customId).toMatch(expected[index] ?? /never/);
    }
  });

  it('keeps working: nothing crashed, no interaction failed on the bot side, and /imagine still draws', async () => {
    await world.registerRaw((commands) => commands);
    const interaction = await world.imagine({ prompt: 'still alive --count 1' });
    await resultOf(interaction);
    const [bot] = world.bots;
    const metric = (await bot?.metrics.registry.getMetricsAsJSON())?.find(
      (entry) => entry.name === 'sdbot_bot_interactions_total',
    );
    const errors = (metric?.values ?? []).filter((value) => value.labels.outcome === 'error');
    expect(errors).toEqual([]);
    const refused = (metric?.values ?? [])
      .filter((value) => value.labels.outcome === 'refused')
      .reduce((sum, value) => sum + value.value, 0);
    expect(refused).toBeGreaterThanOrEqual(30);
  });
});
