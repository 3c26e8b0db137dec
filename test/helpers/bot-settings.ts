/** The bot's configured defaults the settings and rate-limit tests start from. */
import type { RateLimits } from '../../bot/src/ratelimit/policy.js';
import type { SettingsDefaults } from '../../bot/src/settings/keys.js';

export const exampleRateLimits: RateLimits = {
  guildJobsPerMinute: 20,
  guildBurst: 10,
  userJobsPerMinute: 6,
  userBurst: 3,
  userMaxConcurrent: 2,
  guildMaxQueued: 25,
};

export const exampleSettingsDefaults: SettingsDefaults = {
  maxPixels: 1024 * 1024,
  defaultScheduler: 'pndm',
  rateLimits: exampleRateLimits,
};
