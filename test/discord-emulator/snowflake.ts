import type { EmulatorClock } from './clock.js';

/** Discord's epoch (2015-01-01T00:00:00Z), the zero of every snowflake's timestamp. */
export const DISCORD_EPOCH_MS = 1_420_070_400_000n;

const MAX_INCREMENT = 0xfffn;

/**
 * Snowflake ids as Discord mints them: timestamp << 22 | worker << 17 | process << 12 | increment.
 * Real-looking ids matter: @discordjs/rest only recognises 17-19 digit ids as route parameters.
 * Ids stay unique and increasing even when a manual clock stands still or goes back.
 */
export class SnowflakeGenerator {
  #timestamp = 0n;
  #increment = 0n;

  constructor(private readonly clock: EmulatorClock) {}

  next(): string {
    const now = BigInt(this.clock.now()) - DISCORD_EPOCH_MS;
    if (now > this.#timestamp) {
      this.#timestamp = now;
      this.#increment = 0n;
    } else if (this.#increment === MAX_INCREMENT) {
      this.#timestamp += 1n;
      this.#increment = 0n;
    } else {
      this.#increment += 1n;
    }
    return ((this.#timestamp << 22n) | (1n << 17n) | (1n << 12n) | this.#increment).toString();
  }
}

/** Discord's shard formula: (guild_id >> 22) % num_shards. */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}
