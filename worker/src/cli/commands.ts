import type { CommandManifestEntry } from '@sdbot/shared';

/** Commands this package adds to `sdbot`; each loads its implementation only when run. */
export const commands: CommandManifestEntry[] = [];
