import { describe, expect, it } from 'vitest';
import { ManualClock } from '../discord-emulator/index.js';
import { DISCORD_EPOCH_MS, SnowflakeGenerator, shardOf } from '../discord-emulator/snowflake.js';

describe('emulator snowflakes', () => {
  it('encode the clock time like Discord ids do, as 18-19 digit strings', () => {
    const at = Date.UTC(2025, 5, 1, 12, 0, 0);
    const id = new SnowflakeGenerator(new ManualClock(at)).next();
    expect(id).toMatch(/^\d{18,19}$/);
    expect(Number((BigInt(id) >> 22n) + DISCORD_EPOCH_MS)).toBe(at);
  });

  it('stay unique and increasing when the clock stands still or goes back', () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const ids = new SnowflakeGenerator(clock);
    const minted = Array.from({ length: 5000 }, () => ids.next());
    clock.set(Date.UTC(2024, 0, 1));
    minted.push(ids.next());
    const numbers = minted.map(BigInt);
    expect(new Set(minted).size).toBe(minted.length);
    expect(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!)).toBe(true);
  });

  it("assign guilds to shards with Discord's formula", () => {
    expect(shardOf(String(7n << 22n), 4)).toBe(3);
    expect(shardOf(String(8n << 22n), 4)).toBe(0);
  });
});
