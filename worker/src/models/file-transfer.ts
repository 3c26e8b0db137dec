/** Fetching one file: resumed with an HTTP Range request, verified by size and hash, renamed into place. */
import { join, dirname } from 'node:path';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SdbotError } from '@sdbot/shared';
import { diskError, fileSize, makeDirectory, PARTIAL_SUFFIX, remove, renameIntoPlace } from './disk-io.js';
import { sameDigest, type MarkerFile } from './download-marker.js';
import { createDigest, hashFileInto } from './file-digest.js';
import { networkReason, type HubClient } from './hub-client.js';
import type { DownloadEvent, ModelFile } from './model-file.js';
import { backoffDelay, retryable, type RetryPolicy } from './retries.js';
import { formatBytes } from './units.js';

export interface FileContext {
  hub: HubClient;
  repo: string;
  commit: string;
  dir: string;
  signal: AbortSignal;
  retry: RetryPolicy;
  stallTimeoutMs: number;
  emit: (event: DownloadEvent) => void;
  /** Entries of an earlier run's marker: a file listed there with the same hash needs no re-hash. */
  recorded: Map<string, MarkerFile>;
}

/** A file already in place counts when its size and hash match (earlier runs verified them). */
export async function alreadyVerified(file: ModelFile, context: FileContext): Promise<boolean> {
  const path = join(context.dir, file.path);
  if ((await fileSize(path)) !== file.size) return false;
  const recorded = context.recorded.get(file.path);
  if (recorded?.size === file.size && sameDigest(recorded, file.digest)) return true;
  context.emit({ type: 'file:verify', file });
  const hash = createDigest(file.digest.algorithm, file.size);
  await hashFileInto(hash, path, file.size, context.signal);
  return hash.digest('hex') === file.digest.value;
}

/** Fetches one file into FILE.partial (resuming it when present), verifies it, renames it. */
export async function fetchFile(file: ModelFile, context: FileContext): Promise<void> {
  const finalPath = join(context.dir, file.path);
  const partialPath = `${finalPath}${PARTIAL_SUFFIX}`;
  await makeDirectory(dirname(finalPath));
  let networkFailures = 0;
  let checksumFailures = 0;
  // A partial file left by an earlier run may belong to another revision: if it fails the
  // check, it is discarded once without spending the checksum retry.
  let inheritedPartial = ((await fileSize(partialPath)) ?? 0) > 0;
  for (;;) {
    let offset = (await fileSize(partialPath)) ?? 0;
    if (offset > file.size) {
      await remove(partialPath);
      offset = 0;
    }
    context.emit({ type: 'file:progress', file, bytes: offset, delta: 0 });
    let received: Received;
    try {
      received =
        offset === file.size
          ? await hashExisting(file, partialPath, context.signal)
          : await transfer(file, partialPath, offset, context);
    } catch (error) {
      if (context.signal.aborted || !(error instanceof SdbotError) || !error.retryable) throw error;
      const progressed = ((await fileSize(partialPath)) ?? 0) > offset;
      networkFailures = progressed ? 1 : networkFailures + 1;
      if (networkFailures >= context.retry.attempts) {
        throw new SdbotError(
          'DOWNLOAD_FAILED',
          `giving up on ${file.path} after ${networkFailures} failed attempts: ${error.message}`,
          { cause: error },
        );
      }
      const delayMs = backoffDelay(networkFailures, context.retry.baseDelayMs);
      context.emit({
        type: 'file:retry',
        file,
        reason: error.message,
        attempt: networkFailures + 1,
        attempts: context.retry.attempts,
        delayMs,
      });
      await sleep(delayMs, undefined, { signal: context.signal });
      continue;
    }
    if (received.bytes === file.size && received.digest === file.digest.value) {
      await renameIntoPlace(partialPath, finalPath);
      return;
    }
    await remove(partialPath);
    context.emit({ type: 'file:progress', file, bytes: 0, delta: 0 });
    if (inheritedPartial) {
      inheritedPartial = false;
      continue;
    }
    checksumFailures += 1;
    const mismatch = describeMismatch(file, received);
    if (checksumFailures >= 2) throw new SdbotError('DOWNLOAD_FAILED', mismatch, { retryable: false });
    context.emit({
      type: 'file:retry',
      file,
      reason: mismatch,
      attempt: 2,
      attempts: 2,
      delayMs: 0,
    });
  }
}

interface Received {
  /** Bytes the file holds after the transfer (more than expected when the server sent too much). */
  bytes: number;
  /** Hex digest of what was written, in the file's digest algorithm. */
  digest: string;
}

/** One HTTP attempt: fetches from `offset` (or from 0 when the server ignores Range). */
async function transfer(
  file: ModelFile,
  partialPath: string,
  offset: number,
  context: FileContext,
): Promise<Received> {
  const stall = new AbortController();
  const signal = AbortSignal.any([context.signal, stall.signal]);
  let timer: NodeJS.Timeout | undefined;
  const armStallTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stall.abort();
    }, context.stallTimeoutMs);
  };
  armStallTimer();
  let start = offset;
  let written = 0;
  let response: Response | undefined;
  try {
    const opened = await context.hub.openFile(context.repo, context.commit, file.repoPath, offset, signal);
    response = opened.response;
    checkEtag(file, opened.etag);
    if (response.status === 416) {
      await remove(partialPath);
      throw retryable(`the server refused to resume ${file.path} at byte ${offset}; starting over`);
    }
    if (response.status === 206) {
      const rangeStart = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
      if (rangeStart === undefined || Number(rangeStart) !== offset) {
        await remove(partialPath);
        throw retryable(`the server sent the wrong part of ${file.path}; starting over`);
      }
    } else {
      // 200: the whole file, whatever was asked for; the partial file is started again.
      start = 0;
    }
    const hash = createDigest(file.digest.algorithm, file.size);
    if (start > 0) await hashFileInto(hash, partialPath, start, signal);
    const handle = await open(partialPath, start > 0 ? 'a' : 'w').catch((cause: unknown) => {
      throw diskError(partialPath, cause);
    });
    try {
      if (response.body !== null) {
        for await (const chunk of response.body) {
          armStallTimer();
          const bytes = chunk as Uint8Array;
          if (start + written + bytes.length > file.size) {
            // More bytes than the file list says: not the listed file. Stop here.
            return { bytes: start + written + bytes.length, digest: hash.digest('hex') };
          }
          await handle.write(bytes).catch((cause: unknown) => {
            throw diskError(partialPath, cause);
          });
          hash.update(bytes);
          written += bytes.length;
          context.emit({ type: 'file:progress', file, bytes: start + written, delta: bytes.length });
        }
      }
    } finally {
      await handle.close();
    }
    if (start + written < file.size) {
      throw retryable(
        `the connection closed after ${formatBytes(start + written)} of ${formatBytes(file.size)} of ${file.path}`,
      );
    }
    return { bytes: start + written, digest: hash.digest('hex') };
  } catch (error) {
    // Frees the connection of an answer that was not read to the end (a locked body is already
    // being torn down by its reader).
    await response?.body?.cancel().catch(() => undefined);
    if (error instanceof SdbotError || context.signal.aborted) throw error;
    if (stall.signal.aborted) {
      const waited = context.stallTimeoutMs;
      const shown = waited % 1000 === 0 ? `${waited / 1000}s` : `${waited}ms`;
      throw retryable(`no data for ${shown} while fetching ${file.path}`);
    }
    throw retryable(
      `the connection broke after ${formatBytes(start + written)} of ${formatBytes(file.size)} of ${file.path}: ${networkReason(error)}`,
      error,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** A partial file that already has every byte (the run stopped before renaming it). */
async function hashExisting(file: ModelFile, path: string, signal: AbortSignal): Promise<Received> {
  const hash = createDigest(file.digest.algorithm, file.size);
  await hashFileInto(hash, path, file.size, signal);
  return { bytes: file.size, digest: hash.digest('hex') };
}

/** The hub's ETag is the same hash as its file list; a different one means a different file. */
function checkEtag(file: ModelFile, etag: string | undefined): void {
  const length = file.digest.algorithm === 'sha256' ? 64 : 40;
  if (etag === undefined || !new RegExp(`^[0-9a-fA-F]{${length}}$`).test(etag)) return;
  if (etag.toLowerCase() !== file.digest.value) {
    throw new SdbotError(
      'DOWNLOAD_FAILED',
      `the hub's ETag for ${file.path} (${etag.toLowerCase()}) does not match its file list ` +
        `(${file.digest.algorithm} ${file.digest.value})`,
    );
  }
}

function describeMismatch(file: ModelFile, received: Received): string {
  const sizes =
    received.bytes === file.size
      ? ''
      : ` (expected ${file.size} bytes, the server sent ${received.bytes > file.size ? 'more than ' : ''}` +
        `${received.bytes > file.size ? file.size : received.bytes})`;
  return (
    `checksum mismatch for ${file.path}: expected ${file.digest.algorithm} ${file.digest.value}, ` +
    `got ${received.digest}${sizes}; the file was deleted`
  );
}
