/** The hashes a download checks a file against: sha256 for LFS files, the git blob sha1 for the rest. */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { diskError } from './disk-io.js';
import type { DigestAlgorithm } from './model-file.js';

/** sha256 of the content, or git's blob hash: sha1 of `blob <size>\0` followed by the content. */
export function createDigest(algorithm: DigestAlgorithm, size: number): Hash {
  if (algorithm === 'sha256') return createHash('sha256');
  return createHash('sha1').update(`blob ${size}\0`);
}

export async function hashFileInto(
  hash: Hash,
  path: string,
  length: number,
  signal: AbortSignal,
): Promise<void> {
  if (length === 0) return;
  try {
    for await (const chunk of createReadStream(path, { start: 0, end: length - 1, signal })) {
      hash.update(chunk as Buffer);
    }
  } catch (cause) {
    if (signal.aborted) throw cause;
    throw diskError(path, cause, 'read');
  }
}
