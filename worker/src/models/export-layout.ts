/**
 * Which files of a hub repository make up the diffusers ONNX export the pipeline loads, so a
 * download skips everything else (PyTorch weights, images, model cards, other exports).
 *
 * The filter: the export root is the folder holding `unet/model.onnx` (the repository root, or a
 * subfolder such as `onnx/`). From it come `model_index.json` and every file under the pipeline's
 * folders (text_encoder, unet, vae_encoder, vae_decoder, safety_checker, tokenizer, scheduler,
 * feature_extractor), including external ONNX weights (`weights.pb`, `model.onnx_data`), except
 * other frameworks' weights (.safetensors, .bin, .ckpt, .pt, .pth, .msgpack, .h5), images and
 * Markdown. Files are stored relative to the export root.
 */
import { SdbotError } from '@sdbot/shared';
import type { HubTreeFile } from './hub-client.js';

export const EXPORT_FOLDERS = [
  'text_encoder',
  'unet',
  'vae_encoder',
  'vae_decoder',
  'safety_checker',
  'tokenizer',
  'scheduler',
  'feature_extractor',
] as const;

/** Without these the pipeline cannot start; safety_checker and feature_extractor are optional. */
export const REQUIRED_EXPORT_FILES = [
  'model_index.json',
  'text_encoder/model.onnx',
  'unet/model.onnx',
  'vae_encoder/model.onnx',
  'vae_decoder/model.onnx',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'scheduler/scheduler_config.json',
] as const;

const SKIPPED_FILE = /\.(safetensors|bin|ckpt|pt|pth|msgpack|h5|md|png|jpe?g|webp|gif)$/i;

/** A file of the chosen export: `path` in the repository, `localPath` under the model directory. */
export type ExportFile = HubTreeFile & { localPath: string };

export interface ExportSelection {
  /** '' for the repository root, else the subfolder with a trailing slash (`onnx/`). */
  root: string;
  files: ExportFile[];
}

/** Every folder of the listing that holds an ONNX export (`''` is the repository root). */
export function findExportRoots(files: readonly HubTreeFile[]): string[] {
  return files
    .filter((file) => file.path === 'unet/model.onnx' || file.path.endsWith('/unet/model.onnx'))
    .map((file) => file.path.slice(0, -'unet/model.onnx'.length))
    .sort();
}

export function selectExportFiles(
  files: readonly HubTreeFile[],
  where: { repo: string; revision: string; subfolder?: string | undefined },
): ExportSelection {
  const roots = findExportRoots(files);
  const shownRoots = roots.map((root) => (root === '' ? '(repository root)' : root)).join(', ');
  let root: string;
  if (where.subfolder !== undefined) {
    const wanted = where.subfolder.replace(/^\/+|\/+$/g, '');
    root = wanted === '' ? '' : `${wanted}/`;
    if (!roots.includes(root)) {
      throw new SdbotError(
        'MODEL_INVALID',
        `--subfolder ${where.subfolder}: ${where.repo}@${where.revision} has no ${root}unet/model.onnx` +
          (roots.length > 0 ? `; ONNX exports found in: ${shownRoots}` : ''),
      );
    }
  } else if (roots.length === 1 && roots[0] !== undefined) {
    root = roots[0];
  } else if (roots.length === 0) {
    throw new SdbotError('MODEL_INVALID', noExportMessage(files, where));
  } else {
    throw new SdbotError(
      'MODEL_INVALID',
      `${where.repo}@${where.revision} holds several ONNX exports (${shownRoots}): pick one with --subfolder`,
    );
  }

  const selected = files
    .filter((file) => file.path.startsWith(root))
    .map((file) => ({ ...file, localPath: file.path.slice(root.length) }))
    .filter(({ localPath }) => belongsToExport(localPath));
  const present = new Set(selected.map((file) => file.localPath));
  const missing = REQUIRED_EXPORT_FILES.filter((path) => !present.has(path));
  if (missing.length > 0) {
    throw new SdbotError(
      'MODEL_INVALID',
      `the ONNX export in ${where.repo}@${where.revision}${root === '' ? '' : ` (${root})`} ` +
        `lacks ${missing.join(', ')}`,
    );
  }
  return { root, files: selected };
}

function belongsToExport(localPath: string): boolean {
  // A listing is input from the network: nothing may point outside the model directory.
  if (localPath.split('/').some((part) => part === '' || part === '.' || part === '..')) return false;
  if (localPath === 'model_index.json') return true;
  const [folder] = localPath.split('/', 1);
  const inFolder = EXPORT_FOLDERS.some((name) => name === folder) && localPath.includes('/');
  return inFolder && !SKIPPED_FILE.test(localPath);
}

function noExportMessage(files: readonly HubTreeFile[], where: { repo: string; revision: string }): string {
  const topLevel = [...new Set(files.map((file) => file.path.split('/', 1)[0] ?? ''))].sort();
  const shown = topLevel.slice(0, 12).join(', ') + (topLevel.length > 12 ? ', ...' : '');
  return (
    `${where.repo}@${where.revision} has no ONNX export: expected model_index.json and the folders ` +
    `${EXPORT_FOLDERS.map((name) => `${name}/`).join(', ')} with unet/model.onnx, ` +
    `found ${shown === '' ? 'no files' : shown}. ` +
    'ONNX exports often live on a branch (try --revision onnx) or in another repository.'
  );
}
