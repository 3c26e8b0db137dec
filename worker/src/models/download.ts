/**
 * Downloads a diffusers ONNX export from the Hugging Face hub into a model directory.
 *
 * A half-done download never looks done: bytes go to `FILE.partial`, which is renamed into place
 * only after its size and hash match the hub's file list (sha256 for LFS files, the git blob sha1
 * for small ones), and the completion marker `.sdbot-download.json` is written last. A second run
 * keeps verified files, resumes partial ones with an HTTP Range request and fetches the rest.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SdbotError } from '@sdbot/shared';
import { selectExportFiles, type ExportFile } from './export-layout.js';
import { looksLikeUpscalerRepository, selectUpscalerFiles } from './upscaler-layout.js';
import { HubClient, networkReason } from './hub-client.js';
import { formatBytes } from './units.js';

/** Written last, when every file is verified; its presence means the directory is complete. */
export const DOWNLOAD_MARKER = '.sdbot-download.json';
const PARTIAL_SUFFIX = '.partial';

export type DigestAlgorithm = 'sha256' | 'git-sha1';

export interface FileDigest {
  algorithm: DigestAlgorithm;
  /** Lower-case hex. */
  value: string;
}

export interface ModelFile {
  /** Path under the model directory. */
  path: string;
  /** Path in the repository (differs when the export lives in a subfolder). */
  repoPath: string;
  size: number;
  /** The LFS sha256 for LFS files, else the git blob sha1 of the content. */
  digest: FileDigest;
}

export type DownloadEvent =
  | { type: 'download:plan'; repo: string; commit: string; root: string; files: readonly ModelFile[] }
  | { type: 'hub:retry'; reason: string; attempt: number; attempts: number; delayMs: number }
  | { type: 'file:verify'; file: ModelFile }
  | { type: 'file:skip'; file: ModelFile }
  | { type: 'file:progress'; file: ModelFile; bytes: number; delta: number }
  | { type: 'file:done'; file: ModelFile }
  | {
      type: 'file:retry';
      file: ModelFile;
      reason: string;
      attempt: number;
      attempts: number;
      delayMs: number;
    };

export interface RetryPolicy {
  /** Tries per file (and per hub API call) before giving up on network errors. */
  attempts: number;
  /** First backoff delay; it doubles with each failure (with jitter), up to 30 s. */
  baseDelayMs: number;
}

export interface DownloadModelOptions {
  /** `owner/name` on the hub. */
  repo: string;
  /** Branch, tag or commit id (default `main`). */
  revision?: string | undefined;
  /** Folder of the repository that holds the export, when there are several. */
  subfolder?: string | undefined;
  /** An upscaler repository's .onnx file to fetch, when it holds several. */
  file?: string | undefined;
  /** Model directory to fill. */
  dir: string;
  endpoint: string;
  token?: string | undefined;
  /** Files fetched at once (default 4). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: DownloadEvent) => void) | undefined;
  retry?: RetryPolicy | undefined;
  /** A transfer that receives nothing for this long is dropped and resumed (default 60 s). */
  stallTimeoutMs?: number | undefined;
}

export interface DownloadResult {
  repo: string;
  revision: string;
  commit: string;
  /** Folder of the repository the export came from ('' for the root). */
  root: string;
  dir: string;
  files: ModelFile[];
  /** Files this run fetched (the rest were already there and verified). */
  fetched: ModelFile[];
  /** True when the directory was already complete at this commit; nothing was read or fetched. */
  alreadyComplete: boolean;
  /** A super-resolution model (one .onnx file) rather than a diffusers export. */
  upscaler: boolean;
}

export const DEFAULT_CONCURRENCY = 4;
const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000 };
const DEFAULT_STALL_TIMEOUT_MS = 60_000;

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

interface FileContext {
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

export async function downloadModel(options: DownloadModelOptions): Promise<DownloadResult> {
  const signal = options.signal ?? new AbortController().signal;
  const revision = options.revision ?? 'main';
  const retry = options.retry ?? DEFAULT_RETRY;
  const emit = options.onEvent ?? (() => undefined);
  const hub = new HubClient({ endpoint: options.endpoint, token: options.token });
  const { repo, dir } = options;
  try {
    const onRetry = (reason: string, attempt: number, delayMs: number) => {
      emit({ type: 'hub:retry', reason, attempt, attempts: retry.attempts, delayMs });
    };
    const commit = await withRetries(
      () => hub.resolveRevision(repo, revision, signal),
      retry,
      signal,
      onRetry,
    );
    const listing = await withRetries(() => hub.listFiles(repo, commit, signal), retry, signal, onRetry);
    const where = { repo, revision, subfolder: options.subfolder, file: options.file };
    const upscaler = options.file !== undefined || looksLikeUpscalerRepository(listing);
    const selection = upscaler ? selectUpscalerFiles(listing, where) : selectExportFiles(listing, where);
    const files = selection.files.map(toModelFile).sort((a, b) => b.size - a.size);
    emit({ type: 'download:plan', repo, commit, root: selection.root, files });

    await makeDirectory(dir);
    const previous = await readMarker(dir);
    const result = { repo, revision, commit, root: selection.root, dir, files, upscaler };
    if (previous !== undefined && (await markerCoversAll(previous, commit, selection.root, files, dir))) {
      return { ...result, fetched: [], alreadyComplete: true };
    }
    // From here on the directory is being changed: it must not claim to be complete.
    await remove(join(dir, DOWNLOAD_MARKER));
    await ensureDiskSpace(dir, files);

    const context: FileContext = {
      hub,
      repo,
      commit,
      dir,
      signal,
      retry,
      stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      emit,
      recorded: new Map((previous?.files ?? []).map((entry) => [entry.path, entry])),
    };
    const fetched: ModelFile[] = [];
    await runPool(files, options.concurrency ?? DEFAULT_CONCURRENCY, signal, async (file, taskSignal) => {
      const fileContext = { ...context, signal: taskSignal };
      if (await alreadyVerified(file, fileContext)) {
        await remove(join(dir, `${file.path}${PARTIAL_SUFFIX}`));
        emit({ type: 'file:skip', file });
        return;
      }
      await fetchFile(file, fileContext);
      fetched.push(file);
      emit({ type: 'file:done', file });
    });

    await writeMarker(dir, {
      repo,
      revision,
      commit,
      root: selection.root,
      completedAt: new Date().toISOString(),
      files: files.map(toMarkerFile),
    });
    return { ...result, fetched, alreadyComplete: false };
  } catch (error) {
    if (signal.aborted) {
      throw new SdbotError(
        'CANCELLED',
        'download interrupted: run the same command again to resume (verified files and partial downloads are kept)',
        { cause: error },
      );
    }
    throw error;
  }
}

function toModelFile(file: ExportFile): ModelFile {
  const digest: FileDigest =
    file.lfs === undefined
      ? { algorithm: 'git-sha1', value: file.oid.toLowerCase() }
      : { algorithm: 'sha256', value: file.lfs.oid.toLowerCase() };
  return { path: file.localPath, repoPath: file.path, size: file.lfs?.size ?? file.size, digest };
}

/** A file already in place counts when its size and hash match (earlier runs verified them). */
async function alreadyVerified(file: ModelFile, context: FileContext): Promise<boolean> {
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
async function fetchFile(file: ModelFile, context: FileContext): Promise<void> {
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

/** sha256 of the content, or git's blob hash: sha1 of `blob <size>\0` followed by the content. */
function createDigest(algorithm: DigestAlgorithm, size: number): Hash {
  if (algorithm === 'sha256') return createHash('sha256');
  return createHash('sha1').update(`blob ${size}\0`);
}

async function hashFileInto(hash: Hash, path: string, length: number, signal: AbortSignal): Promise<void> {
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

async function withRetries<T>(
  operation: () => Promise<T>,
  retry: RetryPolicy,
  signal: AbortSignal,
  onRetry: (reason: string, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (signal.aborted || !(error instanceof SdbotError) || !error.retryable || attempt >= retry.attempts) {
        throw error;
      }
      const delayMs = backoffDelay(attempt, retry.baseDelayMs);
      onRetry(error.message, attempt + 1, delayMs);
      await sleep(delayMs, undefined, { signal });
    }
  }
}

/** Doubles with each failure, capped at 30 s, with ±20% jitter so parallel files spread out. */
function backoffDelay(failures: number, baseDelayMs: number): number {
  const delay = Math.min(baseDelayMs * 2 ** (failures - 1), 30_000);
  return Math.round(delay * (0.8 + Math.random() * 0.4));
}

/** Runs `task` over `items`, `limit` at a time; the first failure stops the others. */
async function runPool<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const taskSignal = AbortSignal.any([signal, stop.signal]);
  let next = 0;
  const failures: unknown[] = [];
  const lane = async () => {
    for (;;) {
      const item = items[next];
      next += 1;
      if (item === undefined || taskSignal.aborted) return;
      try {
        await task(item, taskSignal);
      } catch (error) {
        failures.push(error);
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failures.length > 0) throw failures[0];
}

function retryable(message: string, cause?: unknown): SdbotError {
  return new SdbotError('DOWNLOAD_FAILED', message, { retryable: true, cause });
}

function sameDigest(recorded: MarkerFile, digest: FileDigest): boolean {
  return (digest.algorithm === 'sha256' ? recorded.sha256 : recorded.gitSha1) === digest.value;
}

function toMarkerFile(file: ModelFile): MarkerFile {
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
async function markerCoversAll(
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

async function writeMarker(dir: string, marker: DownloadMarker): Promise<void> {
  const path = join(dir, DOWNLOAD_MARKER);
  const temporary = `${path}${PARTIAL_SUFFIX}`;
  await writeFile(temporary, `${JSON.stringify(marker, null, 2)}\n`).catch((cause: unknown) => {
    throw diskError(temporary, cause);
  });
  await renameIntoPlace(temporary, path);
}

/** Fails early, naming both numbers, when the files cannot fit. */
async function ensureDiskSpace(dir: string, files: readonly ModelFile[]): Promise<void> {
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

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw diskError(path, cause, 'read');
  }
}

async function makeDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true }).catch((cause: unknown) => {
    throw diskError(path, cause);
  });
}

async function remove(path: string): Promise<void> {
  await rm(path, { force: true }).catch((cause: unknown) => {
    throw diskError(path, cause);
  });
}

async function renameIntoPlace(from: string, to: string): Promise<void> {
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

function diskError(path: string, cause: unknown, verb: 'read' | 'write' = 'write'): SdbotError {
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
