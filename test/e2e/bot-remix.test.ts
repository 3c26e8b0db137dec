/**
 * Remix end to end, with the real bot, a simulated worker and a real nats-server: with the member's
 * remix preference off Re-roll runs at once; with it on Re-roll and V open a form prefilled with the
 * job's prompt and flags, and the edited prompt and flags end up in the job; an edit with a word the
 * server bans is refused in /imagine's words.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorInteraction, EmulatorMessage } from '../discord-emulator/index.js';
import { jobIdOf, privateAnswer, resultOf, useBotWorld } from '../helpers/bot-world.js';
import { adminSettings, clickLabel } from '../helpers/e2e-bot.js';
import { asGenerationJob } from '../helpers/messages.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();
/** The prompt text input of a form the bot opened. */
function promptValue(interaction: EmulatorInteraction): unknown {
  const top = (interaction.modal?.components ?? []) as { component?: Record<string, unknown> }[];
  return top.find((entry) => entry.component?.custom_id === 'prompt')?.component?.value;
}

describe.skipIf(!hasNats)(`remix${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useBotWorld({ workers: [{ models: ['sim'], msPerStep: 5 }] });
  const settings = adminSettings(world);
  let grid: EmulatorMessage;

  beforeAll(async () => {
    grid = await resultOf(
      await world.imagine({ prompt: 'a lighthouse --count 2 --steps 2 --seed 42 --no blurry' }),
    );
  });

  async function jobOf(message: EmulatorMessage) {
    const { client } = await world.jobs();
    return asGenerationJob((await client.state(jobIdOf(message)))?.job);
  }

  function click(label: string, user?: string) {
    return clickLabel(world, grid, label, user);
  }

  function setRemix(user?: string) {
    return world.emulator.sendCommand({
      name: 'preferences',
      subcommand: 'set',
      options: { remix: true },
      ...(user === undefined ? {} : { user }),
    });
  }

  async function openForm(label: string): Promise<EmulatorInteraction> {
    const opened = await click(label);
    await opened.waitForResponse();
    if (opened.modal === undefined) throw new Error(`${label} opened no form`);
    return opened;
  }

  it('runs Re-roll at once while the remix preference is off', async () => {
    const rerolled = await resultOf(await click('Re-roll'));
    const job = await jobOf(rerolled);
    expect(job.prompt).toBe('a lighthouse');
    expect(job.negativePrompt).toBe('blurry');
  });

  it('with remix on, Re-roll opens the form with the prompt and flags; the edit is the new job', async () => {
    expect(await privateAnswer(world, await setRemix())).toMatch(/remix/i);
    const original = await jobOf(grid);
    const opened = await openForm('Re-roll');
    expect(opened.modal?.title).toBe('Remix: re-roll');
    expect(promptValue(opened)).toBe(
      `a lighthouse --w ${original.width} --h ${original.height} --steps 2 --cfg ${original.guidance} ` +
        `--scheduler ${original.scheduler} --model sim --count 2 --no blurry`,
    );
    const submit = await world.emulator.submitModal({
      interaction: opened,
      fields: { prompt: 'a red lighthouse --steps 3 --count 1 --seed 7 --no fog' },
    });
    const job = await jobOf(await resultOf(submit));
    expect(job).toMatchObject({
      kind: 'txt2img',
      prompt: 'a red lighthouse',
      negativePrompt: 'fog',
      steps: 3,
      count: 1,
      seed: 7,
      width: original.width,
      height: original.height,
    });
  });

  it('with remix on, V2 opens the form and makes strong variations of image 2 with the edit', async () => {
    const original = await jobOf(grid);
    const opened = await openForm('V2');
    expect(opened.modal?.title).toBe('Remix: variations');
    expect(promptValue(opened)).toMatch(/^a lighthouse --w \d+ --h \d+ --steps 2 .*--no blurry$/);
    const submit = await world.emulator.submitModal({
      interaction: opened,
      fields: { prompt: 'a green lighthouse --steps 4 --count 1' },
    });
    const job = await jobOf(await resultOf(submit));
    if (job.kind !== 'variation') throw new Error(`a ${job.kind} job, not a variation`);
    expect(job).toMatchObject({ prompt: 'a green lighthouse', steps: 4, count: 1, strength: 0.75 });
    expect(job.source).toMatchObject({ jobId: original.id, index: 1 });
    expect(job.seed).not.toBe(42);
  });

  it('refuses a bad flag as /imagine does; without --seed the edit gets a new seed', async () => {
    const bad = await world.emulator.submitModal({
      interaction: await openForm('Re-roll'),
      fields: { prompt: 'a lighthouse --steps 999 --ar 7:0' },
    });
    const imagine = await world.imagine({ prompt: 'a lighthouse --steps 999 --ar 7:0' });
    const refusal = await privateAnswer(world, imagine);
    expect(refusal).toContain('--steps 999');
    expect(await privateAnswer(world, bad)).toBe(refusal);
    const submit = await world.emulator.submitModal({
      interaction: await openForm('Re-roll'),
      fields: { prompt: 'a blue lighthouse --count 1 --steps 2' },
    });
    const job = await jobOf(await resultOf(submit));
    expect(job).toMatchObject({ prompt: 'a blue lighthouse', negativePrompt: '' });
    expect(job.seed).not.toBe(42);
  });

  it('tells a member banned from creating images before opening the form', async () => {
    expect(await privateAnswer(world, await setRemix('bob'))).toMatch(/remix/i);
    expect(await settings('add', { user: world.emulator.user('bob').id }, 'banned-users')).not.toMatch(
      /wrong|must/,
    );
    const opened = await click('Re-roll', 'bob');
    expect(await privateAnswer(world, opened)).toBe('You may not create images in this server.');
    expect(opened.modal).toBeUndefined();
  });

  it("refuses an edit with a word the server bans, in /imagine's words", async () => {
    expect(await settings('add', { words: 'castle' }, 'banned-words')).not.toMatch(/wrong|must/);
    const opened = await openForm('Re-roll');
    const submit = await world.emulator.submitModal({
      interaction: opened,
      fields: { prompt: 'a Castle at night --count 1' },
    });
    const expected = 'This server does not allow "castle" in prompts.';
    expect(await privateAnswer(world, submit)).toBe(expected);
    expect(await privateAnswer(world, await world.imagine({ prompt: 'a Castle at night' }))).toBe(expected);
  });
});
