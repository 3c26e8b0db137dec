/**
 * The emulator honours `nonce` + `enforce_nonce` on message create as Discord does: a create
 * repeating a recent nonce returns the message already made instead of posting again; without
 * `enforce_nonce` the nonce is only echoed. The bot's channel posts carry such a nonce.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { channelPostNonce } from '../../bot/src/service/discord.js';
import { ManualClock, startDiscordEmulator, type DiscordEmulator } from '../discord-emulator/index.js';

const emulators: DiscordEmulator[] = [];

afterEach(async () => {
  const closing = emulators.splice(0);
  await Promise.all(closing.map((emulator) => emulator.close()));
  for (const emulator of closing) expect(emulator.errors).toEqual([]);
});

async function post(
  emulator: DiscordEmulator,
  channelId: string,
  json: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${emulator.apiUrl}/v10/channels/${channelId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bot ${emulator.botToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('message nonces', () => {
  it('de-duplicates creates with the same enforced nonce for a few minutes', async () => {
    const clock = new ManualClock();
    const emulator = await startDiscordEmulator({ clock });
    emulators.push(emulator);
    const channel = emulator.channel('general').id;
    const nonce = channelPostNonce('discord-1234567890123456789');
    const first = await post(emulator, channel, { content: 'result', nonce, enforce_nonce: true });
    expect(first.status).toBe(200);
    expect(first.body.nonce).toBe(nonce);
    const again = await post(emulator, channel, { content: 'result again', nonce, enforce_nonce: true });
    expect(again.body.id).toBe(first.body.id);
    expect(emulator.channelMessages(channel).map((m) => m.content)).toEqual(['result']);
    // Without enforce_nonce the nonce is not checked.
    const loose = await post(emulator, channel, { content: 'loose', nonce });
    expect(loose.body.id).not.toBe(first.body.id);
    // Discord remembers a nonce for minutes, not forever.
    clock.advance(10 * 60_000);
    const later = await post(emulator, channel, { content: 'later', nonce, enforce_nonce: true });
    expect(later.body.id).not.toBe(first.body.id);
    expect(emulator.channelMessages(channel)).toHaveLength(3);
  });

  it('refuses a nonce longer than 25 characters', async () => {
    const emulator = await startDiscordEmulator();
    emulators.push(emulator);
    const channel = emulator.channel('general').id;
    const refused = await post(emulator, channel, {
      content: 'x',
      nonce: 'n'.repeat(26),
      enforce_nonce: true,
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('nonce');
  });

  it('gives every job one stable channel-post nonce of at most 25 characters', () => {
    const ids = ['discord-1234567890123456789', 'discord-1234567890123456780', `cli-${'x'.repeat(200)}`];
    const nonces = ids.map(channelPostNonce);
    for (const nonce of nonces) expect(nonce.length).toBeLessThanOrEqual(25);
    expect(new Set(nonces).size).toBe(ids.length);
    expect(channelPostNonce(ids[0] ?? '')).toBe(nonces[0]);
  });
});
