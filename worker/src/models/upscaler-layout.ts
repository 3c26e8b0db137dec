/**
 * Which file of a hub repository is a super-resolution model: upscaler repositories hold one
 * `.onnx` file (Real-ESRGAN and friends), perhaps next to PyTorch weights, images and a model card.
 * The file (and its external weights, `NAME.onnx_data` or `NAME.onnx.data`, when present) lands at
 * the top of the model directory, which `sdbot worker --upscaler DIR` then loads.
 */
import { SdbotError } from '@sdbot/shared';
import { EXPORT_FOLDERS, type ExportSelection } from './export-layout.js';
import type { HubTreeFile } from './hub-client.js';

function isOnnx(path: string): boolean {
  return path.toLowerCase().endsWith('.onnx');
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Folders of diffusers pipelines: an .onnx file in one of them is part of a pipeline, not an upscaler. */
const PIPELINE_FOLDERS = new Set<string>([...EXPORT_FOLDERS, 'controlnet', 'text_encoder_2', 'transformer']);

/** A listing with ONNX files and no trace of a diffusers pipeline: an upscaler repository. */
export function looksLikeUpscalerRepository(files: readonly HubTreeFile[]): boolean {
  const onnx = files.filter((file) => isOnnx(file.path));
  const pipeline = files.some(
    (file) =>
      file.path === 'model_index.json' ||
      file.path.endsWith('/model_index.json') ||
      (isOnnx(file.path) && file.path.split('/').some((part) => PIPELINE_FOLDERS.has(part))),
  );
  return onnx.length > 0 && !pipeline;
}

/**
 * The one .onnx file (under `subfolder` when given, or exactly `file`), with its external
 * weights. Several candidates: fails listing them, so the user can pick one with `--file`.
 */
export function selectUpscalerFiles(
  files: readonly HubTreeFile[],
  where: { repo: string; revision: string; subfolder?: string | undefined; file?: string | undefined },
): ExportSelection {
  const prefix = where.subfolder === undefined ? '' : `${where.subfolder.replace(/^\/+|\/+$/g, '')}/`;
  const candidates = files.filter(
    (entry) =>
      isOnnx(entry.path) &&
      entry.path.startsWith(prefix === '/' ? '' : prefix) &&
      (where.file === undefined || entry.path === where.file),
  );
  const place = `${where.repo}@${where.revision}${prefix === '' || prefix === '/' ? '' : ` (${prefix})`}`;
  if (candidates.length === 0) {
    throw new SdbotError(
      'MODEL_INVALID',
      where.file === undefined ? `${place} holds no .onnx file` : `${place} has no file ${where.file}`,
    );
  }
  const [chosen, ...others] = candidates;
  if (chosen === undefined || others.length > 0) {
    throw new SdbotError(
      'MODEL_INVALID',
      `${place} holds several .onnx files (${candidates.map((entry) => entry.path).join(', ')}): pick one with --file PATH`,
    );
  }
  const name = basename(chosen.path);
  if (name.startsWith('.') || name.includes('\\')) {
    throw new SdbotError('MODEL_INVALID', `${place}: cannot store ${chosen.path} safely`);
  }
  const externalData = new Set([`${chosen.path}_data`, `${chosen.path}.data`]);
  const selected = [chosen, ...files.filter((entry) => externalData.has(entry.path))].map((entry) => ({
    ...entry,
    localPath: basename(entry.path),
  }));
  const root = chosen.path.slice(0, chosen.path.length - name.length);
  return { root, files: selected };
}
