/**
 * The message commands end to end, with the real bot, a simulated worker and the emulated CDN:
 * "Show parameters" answers privately with what an image's A1111 text says (a PNG the worker's
 * encoder wrote, a foreign PNG with hand-written A1111 text) or that there is none; "Vary this
 * image" opens a modal with the image's prompt and makes an img2img job from that image at
 * strength 0.75, refusing an edited prompt the server bans in /imagine's words.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorInteraction, EmulatorMessage } from '../discord-emulator/index.js';
import { jobIdOf, privateAnswer, resultOf } from '../helpers/bot-world.js';
import { adminSettings, useCdnBotWorld } from '../helpers/e2e-bot.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { encodePng, formatParameters } from '../../worker/src/provenance.js';

const hasNats = natsServerAvailable();
const A1111_TEXT = [
  'a castle on a hill, (dramatic lighting:1.3)',
  'Negative prompt: blurry, watermark',
  'Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 987654321, Size: 640x448, Model hash: abcdef1234, Model: "dream, v2", Version: v1.10.1',
].join('\n');

function solid(width: number, height: number, colour: string): Uint8Array {
  const [r, g, b] = [1, 3, 5].map((at) => parseInt(colour.slice(at, at + 2), 16));
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < pixels.length; i += 3) pixels.set([r ?? 0, g ?? 0, b ?? 0], i);
  return pixels;
}

/** The text input values of a modal the bot opened, by custom_id. */
function modalValues(interaction: EmulatorInteraction): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  // Text inputs sit in labels (type 18) or, in the older layout, in action rows.
  const top = (interaction.modal?.components ?? []) as {
    component?: Record<string, unknown>;
    components?: Record<string, unknown>[];
  }[];
  for (const entry of top) {
    for (const input of entry.component ? [entry.component] : (entry.components ?? [])) {
      values[String(input.custom_id)] = input.value;
    }
  }
  return values;
}

describe.skipIf(!hasNats)(`message commands on images${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const world = useCdnBotWorld(256 * 256);
  const settings = adminSettings(world);
  let workerPng: EmulatorMessage;
  let foreignPng: EmulatorMessage;

  beforeAll(async () => {
    const workerText = formatParameters({
      prompt: 'a blue lighthouse at dawn',
      negativePrompt: 'fog',
      steps: 12,
      scheduler: 'euler_a',
      guidance: 7,
      seed: 42,
      width: 96,
      height: 64,
      model: 'sim',
    });
    workerPng = world.emulator.postUserMessage({
      user: 'bob',
      content: 'look what I made',
      files: [
        {
          filename: 'lighthouse.png',
          contentType: 'image/png',
          data: await encodePng(solid(96, 64, '#2040c0'), 96, 64, workerText),
        },
      ],
    });
    const foreign = await sharp(Buffer.from(solid(64, 64, '#30a030')), {
      raw: { width: 64, height: 64, channels: 3 },
    })
      .png()
      .toBuffer();
    // A PNG from elsewhere: A1111's text added as PIL does, a tEXt chunk keyed "parameters".
    foreignPng = world.emulator.postUserMessage({
      user: 'bob',
      files: [{ filename: 'castle.png', contentType: 'image/png', data: withText(foreign, A1111_TEXT) }],
    });
  });

  function showParameters(message: EmulatorMessage) {
    return world.emulator.sendMessageCommand({ name: 'Show parameters', message, user: 'alice' });
  }

  it('"Show parameters" reads the PNG text the worker writes, privately', async () => {
    const settings =
      '**Seed:** 42 · **Steps:** 12 · **Sampler:** Euler a · **Guidance:** 7 · **Size:** 96x64';
    expect(await privateAnswer(world, await showParameters(workerPng))).toBe(
      `Parameters of lighthouse.png:\n**Prompt:** a blue lighthouse at dawn\n**Negative prompt:** fog\n${settings}\n**Model:** sim`,
    );
  });

  it('"Show parameters" reads a foreign PNG with hand-written A1111 text', async () => {
    const answer = await privateAnswer(world, await showParameters(foreignPng));
    expect(answer.split('\n')).toEqual([
      'Parameters of castle.png:',
      '**Prompt:** a castle on a hill, (dramatic lighting:1.3)',
      '**Negative prompt:** blurry, watermark',
      '**Seed:** 987654321 · **Steps:** 25 · **Sampler:** DPM++ 2M Karras · **Guidance:** 6.5 · **Size:** 640x448',
      '**Model:** dream, v2 (abcdef1234)',
    ]);
  });

  it('"Show parameters" on the bot\'s result says when its image carries none, and on a message without an image', async () => {
    // The simulated worker writes plain PNGs; the real pipeline's text is read as in the first test.
    const result = await resultOf(await world.imagine({ prompt: 'a plain picture --count 1 --steps 2' }));
    const answer = await privateAnswer(world, await showParameters(result));
    expect(answer).toMatch(
      /^\S+\.png carries no generation parameters \(no A1111 "parameters" text in its PNG text, EXIF or XMP\)\.$/,
    );
    const text = world.emulator.postUserMessage({ user: 'bob', content: 'just words' });
    expect(await privateAnswer(world, await showParameters(text))).toBe(
      'That message has no image; use "Show parameters" on a message with a PNG, JPEG, WebP or GIF attached.',
    );
  });

  it('"Vary this image" opens a modal with the prompt and makes an img2img job from that image at 0.75', async () => {
    const opened = await world.emulator.sendMessageCommand({ name: 'Vary this image', message: workerPng });
    await opened.waitForResponse();
    expect(opened.modal?.title).toBe('Vary this image');
    expect(modalValues(opened)).toEqual({ prompt: 'a blue lighthouse at dawn' });
    const submit = await world.emulator.submitModal({
      interaction: opened,
      fields: { prompt: 'a red lighthouse at dawn --count 1 --steps 2' },
    });
    const result = await resultOf(submit);
    const { client } = await world.jobs();
    const job = (await client.state(jobIdOf(result)))?.job;
    if (job?.kind !== 'img2img') throw new Error('not an img2img job');
    expect(job.prompt).toBe('a red lighthouse at dawn');
    expect(job.strength).toBe(0.75);
    expect(job.width / job.height).toBeCloseTo(1.5, 0);
    const source = sharp(Buffer.from(await client.readImage(job.source.image)));
    const stats = await source.stats();
    expect(Math.round(stats.channels[2]!.mean)).toBe(0xc0);
  });

  it('"Vary this image" on an image without parameters opens an empty modal', async () => {
    const plain = world.emulator.postUserMessage({
      user: 'bob',
      files: [
        {
          filename: 'plain.png',
          contentType: 'image/png',
          data: await encodePng(solid(64, 64, '#ffffff'), 64, 64),
        },
      ],
    });
    const opened = await world.emulator.sendMessageCommand({ name: 'Vary this image', message: plain });
    await opened.waitForResponse();
    expect(modalValues(opened)).toEqual({ prompt: undefined });
  });

  it('"Vary this image" refuses an edited prompt with a banned word in /imagine\'s words', async () => {
    expect(await settings('add', { words: 'castle' }, 'banned-words')).not.toMatch(/wrong|must/);
    const opened = await world.emulator.sendMessageCommand({ name: 'Vary this image', message: foreignPng });
    await opened.waitForResponse();
    expect(modalValues(opened)).toEqual({ prompt: 'a castle on a hill, (dramatic lighting:1.3)' });
    const submit = await world.emulator.submitModal({
      interaction: opened,
      fields: { prompt: 'a Castle at night' },
    });
    const imagine = await world.imagine({ prompt: 'a Castle at night' });
    const expected = 'This server does not allow "castle" in prompts.';
    expect(await privateAnswer(world, imagine)).toBe(expected);
    expect(await privateAnswer(world, submit)).toBe(expected);
  });

  it('"Vary this image" tells a member banned from creating images before opening the form', async () => {
    expect(await settings('add', { user: world.emulator.user('bob').id }, 'banned-users')).not.toMatch(
      /wrong|must/,
    );
    const opened = await world.emulator.sendMessageCommand({
      name: 'Vary this image',
      message: workerPng,
      user: 'bob',
    });
    expect(await privateAnswer(world, opened)).toBe('You may not create images in this server.');
    expect(opened.modal).toBeUndefined();
    const imagine = await world.imagine({ prompt: 'anything' }, { user: 'bob' });
    expect(await privateAnswer(world, imagine)).toBe('You may not create images in this server.');
  });

  it('"Vary this image" on a message without an image says so', async () => {
    const text = world.emulator.postUserMessage({ user: 'bob', content: 'no picture here' });
    const opened = await world.emulator.sendMessageCommand({ name: 'Vary this image', message: text });
    expect(await privateAnswer(world, opened)).toBe(
      'That message has no image; use "Vary this image" on a message with a PNG, JPEG, WebP or GIF attached.',
    );
  });
});

/** A PNG with a tEXt chunk before its first IDAT, written independently of the worker's code. */
function withText(png: Buffer, text: string): Buffer {
  const body = Buffer.concat([
    Buffer.from('tEXt', 'latin1'),
    Buffer.from('parameters\0', 'latin1'),
    Buffer.from(text, 'latin1'),
  ]);
  const chunk = Buffer.alloc(body.length + 8);
  chunk.writeUInt32BE(body.length - 4, 0);
  body.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(body), body.length + 4);
  const idat = png.indexOf('IDAT', 8, 'latin1') - 4;
  return Buffer.concat([png.subarray(0, idat), chunk, png.subarray(idat)]);
}
