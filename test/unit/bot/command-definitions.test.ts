import { LIMITS, SCHEDULER_NAMES } from '@sdbot/shared';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  PermissionFlagsBits,
  type APIApplicationCommandOption,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { describe, expect, it } from 'vitest';
import { modelSuggestions } from '../../../bot/src/commands/autocomplete.js';
import { commandDefinitions, slashCommandDefinitions } from '../../../bot/src/commands/definitions.js';

/** Discord's documented limits for chat input commands (API v10). */
const NAME = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

type Option = APIApplicationCommandOption;

function field(option: Option, key: string): unknown {
  return (option as unknown as Record<string, unknown>)[key];
}

/** Every broken rule, as `path: problem`. */
function discordLimitProblems(command: RESTPostAPIChatInputApplicationCommandsJSONBody): string[] {
  const problems: string[] = [];
  let characters = command.name.length + command.description.length;
  const checkName = (path: string, name: string) => {
    if (!NAME.test(name) || name !== name.toLowerCase()) problems.push(`${path}: bad name "${name}"`);
  };
  const checkDescription = (path: string, description: string) => {
    if (description.length < 1 || description.length > 100) problems.push(`${path}: description length`);
  };
  const checkOptions = (path: string, options: readonly Option[], depth: number) => {
    if (options.length > 25) problems.push(`${path}: ${options.length} options`);
    const names = options.map((option) => option.name);
    if (new Set(names).size !== names.length) problems.push(`${path}: duplicate option names`);
    let sawOptional = false;
    for (const option of options) {
      const at = `${path}.${option.name}`;
      characters += option.name.length + option.description.length;
      checkName(at, option.name);
      checkDescription(at, option.description);
      const nested = field(option, 'options') as Option[] | undefined;
      if (option.type === ApplicationCommandOptionType.SubcommandGroup) {
        if (depth !== 0) problems.push(`${at}: group nested too deep`);
        if (nested?.some((child) => child.type !== ApplicationCommandOptionType.Subcommand)) {
          problems.push(`${at}: a group may only hold subcommands`);
        }
        checkOptions(at, nested ?? [], depth + 1);
        continue;
      }
      if (option.type === ApplicationCommandOptionType.Subcommand) {
        if (depth > 1) problems.push(`${at}: subcommand nested too deep`);
        checkOptions(at, nested ?? [], 2);
        continue;
      }
      const required = field(option, 'required') === true;
      if (required && sawOptional) problems.push(`${at}: required option after an optional one`);
      if (!required) sawOptional = true;
      const choices = (field(option, 'choices') ?? []) as { name: string; value: string | number }[];
      if (choices.length > 25) problems.push(`${at}: ${choices.length} choices`);
      if (choices.length > 0 && field(option, 'autocomplete') === true)
        problems.push(`${at}: choices with autocomplete`);
      for (const choice of choices) {
        characters += choice.name.length + String(choice.value).length;
        if (choice.name.length < 1 || choice.name.length > 100)
          problems.push(`${at}: choice name "${choice.name}"`);
        if (typeof choice.value === 'string' && choice.value.length > 100)
          problems.push(`${at}: choice value too long`);
      }
      const maxLength = field(option, 'max_length') as number | undefined;
      if (maxLength !== undefined && (maxLength < 1 || maxLength > 6000))
        problems.push(`${at}: max_length ${maxLength}`);
      const min = field(option, 'min_value') as number | undefined;
      const max = field(option, 'max_value') as number | undefined;
      if (min !== undefined && max !== undefined && min > max)
        problems.push(`${at}: min_value above max_value`);
      if (
        option.type === ApplicationCommandOptionType.Integer &&
        max !== undefined &&
        max > Number.MAX_SAFE_INTEGER
      ) {
        problems.push(`${at}: integer bound beyond 2^53`);
      }
    }
  };
  checkName(command.name, command.name);
  checkDescription(command.name, command.description);
  checkOptions(command.name, command.options ?? [], 0);
  if (characters > 4000)
    problems.push(`${command.name}: ${characters} characters in names, descriptions and choices`);
  return problems;
}

function option(options: readonly Option[] | undefined, name: string): Option {
  const found = options?.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no option ${name}`);
  return found;
}

describe('slash command definitions', () => {
  const commands = slashCommandDefinitions();

  it('are /imagine, /settings, /queue, /info and /preferences, then the message commands, with unique names', () => {
    expect(commandDefinitions().map((command) => command.name)).toEqual([
      'imagine',
      'settings',
      'queue',
      'info',
      'preferences',
      'Show parameters',
      'Vary this image',
    ]);
  });

  it('"Show parameters" and "Vary this image" are message commands without description or options, in servers and DMs', () => {
    const menus = commandDefinitions().filter((command) => command.type === ApplicationCommandType.Message);
    expect(menus.map((command) => command.name)).toEqual(['Show parameters', 'Vary this image']);
    for (const command of menus) {
      expect(command.name.length).toBeLessThanOrEqual(32);
      expect('description' in command && command.description !== '').toBe(false);
      expect('options' in command).toBe(false);
      expect(command.contexts).toEqual([0, 1]);
    }
  });

  it.each(slashCommandDefinitions().map((command) => [command.name, command] as const))(
    '/%s respects every Discord limit',
    (_name, command) => {
      expect(discordLimitProblems(command)).toEqual([]);
    },
  );

  it('the limit checker catches what Discord would refuse', () => {
    const broken = {
      name: 'Imagine',
      description: '',
      options: [
        {
          type: ApplicationCommandOptionType.String,
          name: 'a',
          description: 'x',
          required: false,
          max_length: 7000,
        },
        { type: ApplicationCommandOptionType.String, name: 'b', description: 'x', required: true },
        {
          type: ApplicationCommandOptionType.String,
          name: 'c',
          description: 'x',
          choices: Array.from({ length: 26 }, (_, index) => ({ name: `n${index}`, value: `v${index}` })),
        },
      ],
    } as RESTPostAPIChatInputApplicationCommandsJSONBody;
    expect(discordLimitProblems(broken)).toEqual([
      'Imagine: bad name "Imagine"',
      'Imagine: description length',
      'Imagine.a: max_length 7000',
      'Imagine.b: required option after an optional one',
      'Imagine.c: 26 choices',
    ]);
  });

  it('/imagine mirrors the protocol limits and offers every scheduler by its friendly name', () => {
    const imagine = commands[0];
    const options = imagine?.options;
    expect(options?.map((candidate) => candidate.name)).toEqual([
      'prompt',
      'negative',
      'aspect',
      'width',
      'height',
      'steps',
      'guidance',
      'seed',
      'scheduler',
      'model',
      'count',
      'image',
      'strength',
    ]);
    expect(option(options, 'strength')).toMatchObject({ min_value: 0, max_value: 1 });
    expect(option(options, 'prompt')).toMatchObject({ required: true, max_length: LIMITS.promptMaxChars });
    expect(option(options, 'steps')).toMatchObject({ min_value: 1, max_value: 150 });
    expect(option(options, 'seed')).toMatchObject({ min_value: 0, max_value: 2 ** 32 - 1 });
    expect(option(options, 'count')).toMatchObject({ min_value: 1, max_value: 4 });
    expect(option(options, 'model')).toMatchObject({ autocomplete: true });
    expect(field(option(options, 'aspect'), 'choices')).toEqual(
      ['1:1', '3:2', '2:3', '16:9', '9:16', '4:5'].map((ratio) => ({ name: ratio, value: ratio })),
    );
    const schedulers = field(option(options, 'scheduler'), 'choices') as { name: string; value: string }[];
    expect(schedulers.map((choice) => choice.value)).toEqual([...SCHEDULER_NAMES]);
    expect(schedulers.find((choice) => choice.value === 'dpmpp_2m_karras')?.name).toBe('DPM++ 2M Karras');
  });

  it('/settings needs Manage Server, works only in guilds, and has the planned subcommands', () => {
    const settings = commands[1];
    expect(settings?.default_member_permissions).toBe(String(PermissionFlagsBits.ManageGuild));
    expect(settings?.contexts).toEqual([0]);
    const layout = settings?.options?.map((entry) => {
      const children = field(entry, 'options') as Option[];
      return entry.type === ApplicationCommandOptionType.SubcommandGroup
        ? `${entry.name}: ${children.map((child) => child.name).join(' ')}`
        : entry.name;
    });
    expect(layout).toEqual([
      'view',
      'set',
      'reset',
      'banned-words: add remove list',
      'channels: allow disallow list',
      'roles: allow disallow list',
      'banned-users: add remove list',
      'channel-defaults: set clear list',
    ]);
  });

  it('/preferences is open to every member, in servers and DMs, with view, set and reset', () => {
    const preferences = commands.find((command) => command.name === 'preferences');
    expect(preferences?.default_member_permissions ?? null).toBeNull();
    expect(preferences?.options?.map((entry) => entry.name)).toEqual(['view', 'set', 'reset']);
    const set = preferences?.options?.find((entry) => entry.name === 'set');
    if (set === undefined) throw new Error('no set subcommand');
    expect((field(set, 'options') as Option[]).map((option) => option.name)).toEqual([
      'negative',
      'steps',
      'aspect',
      'width',
      'height',
      'scheduler',
      'count',
      'remix',
    ]);
  });
});

describe('model suggestions', () => {
  const models = [
    { id: 'sd15', name: 'Stable Diffusion 1.5' },
    { id: 'tiny-sd', name: 'Tiny test model' },
    { id: 'sd21' },
    { id: 'sd15', name: 'duplicate from a second worker' },
  ];

  it('lists models matching the typed text, prefix matches first, each once', () => {
    expect(modelSuggestions(models, '')).toEqual([
      { name: 'Stable Diffusion 1.5 (sd15)', value: 'sd15' },
      { name: 'sd21', value: 'sd21' },
      { name: 'Tiny test model (tiny-sd)', value: 'tiny-sd' },
    ]);
    expect(modelSuggestions(models, 'SD').map((choice) => choice.value)).toEqual(['sd15', 'sd21', 'tiny-sd']);
    expect(modelSuggestions(models, 'diffusion').map((choice) => choice.value)).toEqual(['sd15']);
    expect(modelSuggestions(models, 'xl')).toEqual([]);
  });

  it('never offers more than 25', () => {
    const many = Array.from({ length: 40 }, (_, index) => ({
      id: `model-${String(index).padStart(2, '0')}`,
    }));
    expect(modelSuggestions(many, 'model')).toHaveLength(25);
  });
});
