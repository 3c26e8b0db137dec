/**
 * Downloads a diffusers ONNX export from the Hugging Face hub into a model directory.
 *
 * A half-done download never looks done: bytes go to `FILE.partial`, which is renamed into place
 * only after its size and hash match the hub's file list (sha256 for LFS files, the git blob sha1
 * for small ones), and the completion marker `.sdbot-download.json` is written last. A second run
 * keeps verified files, resumes partial ones with an HTTP Range request and fetches the rest.
 */
import { join } from 'node:path';
import { SdbotError } from '@sdbot/shared';
import { ensureDiskSpace, makeDirectory, PARTIAL_SUFFIX, remove } from './disk-io.js';
import {
  DOWNLOAD_MARKER,
  markerCoversAll,
  readMarker,
  toMarkerFile,
  writeMarker,
} from './download-marker.js';
import { selectExportFiles } from './export-layout.js';
import { alreadyVerified, fetchFile, type FileContext } from './file-transfer.js';
import { HubClient } from './hub-client.js';
import { toModelFile, type DownloadEvent, type ModelFile } from './model-file.js';
import { withRetries, type RetryPolicy } from './retries.js';
import { runPool } from './task-pool.js';
import { looksLikeUpscalerRepository, selectUpscalerFiles } from './upscaler-layout.js';

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
