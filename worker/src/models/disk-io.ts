/** Disk operations of a download, each failure a DOWNLOAD_FAILED error naming the path and reason. */
import { mkdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { SdbotError } from '@sdbot/shared';
import type { ModelFile } from './model-file.js';
import { formatBytes } from './units.js';

/** Bytes in flight go to `FILE.partial`, renamed into place only once verified. */
export const PARTIAL_SUFFIX = '.partial';

/** Fails early, naming both numbers, when the files cannot fit. */
export async function ensureDiskSpace(dir: string, files: readonly ModelFile[]): Promise<void> {
  let needed = 0;
  for (const file of files) {
    const finalPath = join(dir, file.path);
    if ((await fileSize(finalPath)) === file.size) continue;
    needed += file.size - Math.min(file.size, (await fileSize(`${finalPath}${PARTIAL_SUFFIX}`)) ?? 0);
  }
  const space = await statfs(dir).catch(() => undefined);
  if (space === undefined) return;
  const free = space.bavail * space.bsize;
  if (needed > free) {
    throw new SdbotError(
      'DOWNLOAD_FAILED',
      `not enough disk space in ${dir}: the download needs ${formatBytes(needed)} more, ${formatBytes(free)} is free`,
    );
  }
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw diskError(path, cause, 'read');
  }
}

export async function makeDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true }).catch((cause: unknown) => {
    throw diskError(path, cause);
  });
}

export async function remove(path: string): Promise<void> {
  await rm(path, { force: true }).catch((cause: unknown) => {
    throw diskError(path, cause);
  });
}

export async function renameIntoPlace(from: string, to: string): Promise<void> {
  await rename(from, to).catch((cause: unknown) => {
    throw diskError(to, cause);
  });
}

const DISK_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOTDIR: 'a path component is a file, not a folder',
  EEXIST: 'a file is in the way',
  EISDIR: 'a folder is in the way',
};

export function diskError(path: string, cause: unknown, verb: 'read' | 'write' = 'write'): SdbotError {
  const code = (cause as NodeJS.ErrnoException).code;
  const reason =
    (code === undefined ? undefined : DISK_REASONS[code]) ??
    (cause instanceof Error ? cause.message : String(cause));
  return new SdbotError(
    'DOWNLOAD_FAILED',
    `cannot ${verb} ${path}: ${reason}${code === undefined ? '' : ` (${code})`}`,
    { cause, retryable: false },
  );
}
