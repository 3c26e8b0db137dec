/**
 * The one place tests find ../shared (reference model, goldens, tokenizer data). When it is absent
 * the dependent tests skip with a message saying what is missing, so a bare clone still passes.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export function sharedDirectory(): string {
  return resolve(repositoryRoot, process.env.SDBOT_SHARED ?? '../shared');
}

export interface SharedFixture {
  /** Absolute path of the fixture (may not exist). */
  path: string;
  available: boolean;
  /** Appended to suite names so a skipped suite says why. */
  skipNote: string;
}

export function sharedFixture(relativePath: string): SharedFixture {
  const path = join(sharedDirectory(), relativePath);
  const available = existsSync(path);
  if (!available) {
    console.warn(
      `[sdbot tests] skipping tests that need ${path}: set SDBOT_SHARED to the shared/ reference folder`,
    );
  }
  return { path, available, skipNote: available ? '' : ` (skipped: ${path} not found; set SDBOT_SHARED)` };
}
