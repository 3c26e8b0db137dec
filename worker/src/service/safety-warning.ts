import { LOG_EVENTS, type Logger } from '@sdbot/shared';
import type { ImageGenerator } from './generator.js';

/**
 * Logs `safety:disabled` (a warning) naming every real model served without its safety checker
 * (SDBOT_SAFETY_CHECKER off), so turning it off is never silent. Simulated models draw test patterns and are left out.
 */
export function warnUncheckedModels(
  logger: Logger,
  generator: Pick<ImageGenerator, 'models' | 'simulated'>,
): void {
  if (generator.simulated) return;
  const unchecked = generator.models
    // Upscalers enlarge images that were already checked; they have no checker of their own.
    .filter((model) => !model.safetyChecker && model.upscaler === undefined)
    .map((model) => model.id);
  if (unchecked.length === 0) return;
  logger.warn(
    {
      models: unchecked,
      reason: `WARNING: the safety checker is OFF for ${unchecked.join(', ')}: their images are delivered unchecked`,
    },
    LOG_EVENTS.safety.disabled,
  );
}
