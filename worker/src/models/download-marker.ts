/**
 * The completion marker `.sdbot-download.json`: written last, when every file is verified, so a
 * half-done download never looks done.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskError, fileSize, PARTIAL_SUFFIX, renameIntoPlace } from './disk-io.js';
import type { FileDigest, ModelFile } from './model-file.js';

/** Written last, when every file is verified; its presence means the directory is complete. */
export const DOWNLOAD_MARKER = '.sdbot-download.json';

export interface MarkerFile {
  path: string;
  size: number;
  sha256?: string;
  gitSha1?: string;
}

export interface DownloadMarker {
  repo: string;
  revision: string;
  commit: string;
  root: string;
  completedAt: string;
  files: MarkerFile[];
}

export function sameDigest(recorded: MarkerFile, digest: FileDigest): boolean {
  return (digest.algorithm === 'sha256' ? recorded.sha256 : recorded.gitSha1) === digest.value;
}

export function toMarkerFile(file: ModelFile): MarkerFile {
  return file.digest.algorithm === 'sha256'
    ? { path: file.path, size: file.size, sha256: file.digest.value }
    : { path: file.path, size: file.size, gitSha1: file.digest.value };
}

/** The completion marker of a finished download, or undefined when absent or malformed. */
export async function readMarker(dir: string): Promise<DownloadMarker | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(dir, DOWNLOAD_MARKER), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const marker = parsed as Partial<DownloadMarker>;
  const valid =
    typeof marker.commit === 'string' &&
    typeof marker.root === 'string' &&
    Array.isArray(marker.files) &&
    marker.files.every(
      (file: Partial<MarkerFile>) => typeof file.path === 'string' && typeof file.size === 'number',
    );
  return valid ? (marker as DownloadMarker) : undefined;
}

/** The marker of an earlier complete run at the same commit, with every file still in place. */
export async function markerCoversAll(
  marker: DownloadMarker,
  commit: string,
  root: string,
  files: readonly ModelFile[],
  dir: string,
): Promise<boolean> {
  if (marker.commit !== commit || marker.root !== root || marker.files.length !== files.length) return false;
  const recorded = new Map(marker.files.map((file) => [file.path, file]));
  for (const file of files) {
    const entry = recorded.get(file.path);
    if (entry?.size !== file.size || !sameDigest(entry, file.digest)) return false;
    if ((await fileSize(join(dir, file.path))) !== file.size) return false;
  }
  return true;
}

export async function writeMarker(dir: string, marker: DownloadMarker): Promise<void> {
  const path = join(dir, DOWNLOAD_MARKER);
  const temporary = `${path}${PARTIAL_SUFFIX}`;
  await writeFile(temporary, `${JSON.stringify(marker, null, 2)}\n`).catch((cause: unknown) => {
    throw diskError(temporary, cause);
  });
  await renameIntoPlace(temporary, path);
}
