import { z } from 'zod';
import { LIMITS } from '../limits.js';
import { versionField } from './common.js';
import { SCHEDULER_NAMES } from './job.js';
import { imageSide, integerIn, oneOf, snowflake, textUpTo, timestamp } from './fields.js';

/** `16:9`: an aspect ratio as the `--ar` flag takes it. */
const aspectRatio = () =>
  z
    .string({ error: 'must be an aspect ratio such as 16:9' })
    .regex(/^\d{1,3}:\d{1,3}$/, { error: 'must be an aspect ratio such as 16:9' });

/**
 * A member's own defaults, kept across servers in the preferences KV bucket and changed with
 * `/preferences`. They sit between the slash options and the channel's defaults; a server's caps
 * still apply (a preference above a cap is lowered to it, with a note).
 */
export const userPreferencesSchema = z.object({
  v: versionField,
  userId: snowflake(),
  negativePrompt: textUpTo(LIMITS.negativePromptMaxChars, { allowEmpty: false }).optional(),
  steps: integerIn(LIMITS.steps).optional(),
  /** Either an aspect ratio or a size; a new one replaces the other. */
  aspect: aspectRatio().optional(),
  width: imageSide().optional(),
  height: imageSide().optional(),
  scheduler: oneOf(SCHEDULER_NAMES).optional(),
  count: integerIn(LIMITS.count).optional(),
  /** Re-roll, V and Vary open an edit box for the prompt first. */
  remix: z.boolean().default(false),
  updatedAt: timestamp(),
});
export type UserPreferences = z.output<typeof userPreferencesSchema>;
