/** A file of a model download as the hub lists it, and the events a download reports about its files. */
import type { ExportFile } from './export-layout.js';

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

export function toModelFile(file: ExportFile): ModelFile {
  const digest: FileDigest =
    file.lfs === undefined
      ? { algorithm: 'git-sha1', value: file.oid.toLowerCase() }
      : { algorithm: 'sha256', value: file.lfs.oid.toLowerCase() };
  return { path: file.localPath, repoPath: file.path, size: file.lfs?.size ?? file.size, digest };
}
