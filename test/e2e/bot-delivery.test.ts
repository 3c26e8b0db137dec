/**
 * A finished job is posted exactly once whatever happens on the way: the interaction token expires
 * (the result goes to the channel with the bot token), Discord answers a storm of 429s, the gateway
 * drops, the bot restarts or another replica takes over, or no bot runs when the job finishes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { EmulatorInteraction, EmulatorMessage } from '../discord-emulator/index.js';
import { isResult, resultOf, useBotWorld, type BotWorld } from '../helpers/bot-world.js';
import { natsServerAvailable } from '../helpers/nats-server.js';

const hasNats = natsServerAvailable();
const ORIGINAL_EDIT = 'PATCH /webhooks/:app/:token/messages/@original';

/** Every message (not deleted) that carries the result of the interaction's job. */
function postedResults(world: BotWorld, interaction: EmulatorInteraction): EmulatorMessage[] {
  const footer = `job discord-${interaction.id}`;
  return world.emulator.messages.filter(
    (message) =>
      message.deletedAt === undefined && isResult(message) && message.embeds[0]?.footer?.text === footer,
  );
}

function channelResult(world: BotWorld, interaction: EmulatorInteraction): Promise<EmulatorMessage> {
  return world.emulator.waitUntil(
    () => postedResults(world, interaction).find((message) => message.kind === 'channel'),
    15_000,
    `the result of interaction ${interaction.id} in the channel`,
  );
}

function editsOf(world: BotWorld, interaction: EmulatorInteraction) {
  return world.emulator.calls.filter(
    (call) => call.route === ORIGINAL_EDIT && call.path.includes(interaction.token),
  );
}

function running(interaction: EmulatorInteraction): Promise<EmulatorMessage> {
  return interaction.waitForOriginal((message) => /step \d+\//.test(message.content), 10_000);
}

describe.skipIf(!hasNats)(`delivery of results${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useBotWorld({ workers: [{ models: ['sim'], msPerStep: 60 }] });
  const userId = () => world.emulator.users[0]?.id ?? '';

  it('posts to the channel once, pinging the requester, when Discord says the token is dead', async () => {
    const interaction = await world.imagine({ prompt: 'a late picture --steps 10 --count 1' });
    await running(interaction);
    world.emulator.expireInteractionToken(interaction);
    const posted = await channelResult(world, interaction);
    expect(posted.content).toContain(`<@${userId()}>`);
    await sleep(300);
    expect(postedResults(world, interaction)).toEqual([posted]);
    // One refusal is enough: a dead token is never tried again.
    expect(editsOf(world, interaction).filter((call) => call.status === 401).length).toBeLessThanOrEqual(1);
  });

  it('does not even try the token after its 15 minutes', async () => {
    const [current] = world.bots;
    if (current !== undefined) await world.stopBot(current);
    const late = await world.startBot({ now: () => Date.now() + 16 * 60_000 });
    const interaction = await world.imagine({ prompt: 'a picture for later --steps 4 --count 1' });
    const posted = await channelResult(world, interaction);
    expect(posted.content).toContain(`<@${userId()}>`);
    expect(editsOf(world, interaction)).toEqual([]);
    expect(postedResults(world, interaction)).toHaveLength(1);
    await world.stopBot(late);
    await world.startBot();
  });

  it('gets the result through a storm of 429s on the interaction, once', async () => {
    const storm = world.emulator.injectFault({
      route: ORIGINAL_EDIT,
      status: 429,
      times: 8,
      retryAfterSeconds: 0.1,
    });
    const interaction = await world.imagine({ prompt: 'a picture in a storm --steps 8 --count 2' });
    const result = await resultOf(interaction, 20_000);
    expect(storm.hits).toBe(8);
    await sleep(300);
    expect(postedResults(world, interaction)).toEqual([result]);
    expect(result.kind).toBe('interaction-response');
  });

  it('delivers once across a gateway drop, and answers a command sent while it reconnects', async () => {
    const interaction = await world.imagine({ prompt: 'a picture across a drop --steps 10 --count 1' });
    await running(interaction);
    await world.emulator.dropGateway();
    const during = await world.imagine({ prompt: 'sent during the drop --steps 2 --count 1' });
    const [result, second] = await Promise.all([resultOf(interaction), resultOf(during)]);
    await sleep(300);
    expect(postedResults(world, interaction)).toEqual([result]);
    expect(postedResults(world, during)).toEqual([second]);
  });

  it('another replica takes over the jobs of a bot that stops, and posts their results once', async () => {
    const [first] = world.bots;
    if (first === undefined) throw new Error('no bot running');
    const interaction = await world.imagine({ prompt: 'handed over --steps 15 --count 1' });
    await running(interaction);
    const second = await world.startBot();
    await world.stopBot(first);
    const posted = await channelResult(world, interaction);
    expect(posted.content).toContain(`<@${userId()}>`);
    await sleep(300);
    expect(postedResults(world, interaction)).toEqual([posted]);
    const adopted = await second.metrics.registry.getSingleMetricAsString('sdbot_bot_adopted_jobs_total');
    expect(adopted).toMatch(/sdbot_bot_adopted_jobs_total 1$/m);
  });

  it('posts a result that finished while no bot was running when a bot starts again', async () => {
    const interaction = await world.imagine({ prompt: 'finished in the dark --steps 6 --count 1' });
    await running(interaction);
    for (const bot of [...world.bots]) await world.stopBot(bot);
    const { client } = await world.jobs();
    await client.awaitOutcome(`discord-${interaction.id}`, { timeoutMs: 10_000 });
    await world.startBot();
    const posted = await channelResult(world, interaction);
    await sleep(300);
    expect(postedResults(world, interaction)).toEqual([posted]);
  });
});
