/** Flags that several worker commands take with the same meaning. */
import type { OptionSpec } from '@sdbot/shared';

/** --watermark / --no-watermark: overrides SDBOT_WATERMARK for one run. */
export const WATERMARK_FLAG: OptionSpec = {
  type: 'boolean',
  description: 'Embed the invisible watermark (default SDBOT_WATERMARK); --no-watermark skips it',
};
