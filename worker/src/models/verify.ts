/**
 * `sdbot models verify`: opens every part of an export on its own (so one bad part does not hide
 * the others), checks it against what the pipeline feeds and reads, then runs a one-step
 * generation at the smallest size the UNet takes. Each check is a row of the report.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { toSdbotError, type Logger } from '@sdbot/shared';
import type { InferenceModel, SessionSettings, ValueInfo } from '../diffusion/backend/types.js';
import { openOnnxModel } from '../diffusion/backend/onnx.js';
import {
  adaptSafetyChecker,
  adaptTextEncoder,
  adaptUnet,
  adaptVaeDecoder,
  adaptVaeEncoder,
} from '../diffusion/model-adapters.js';
import { PeakRss } from '../diffusion/peak-rss.js';
import { StableDiffusionPipeline } from '../diffusion/pipeline.js';
import { DOWNLOAD_MARKER, readMarker } from './download-marker.js';

export type CheckStatus = 'ok' | 'failed' | 'skipped';

export interface PartReport {
  part: string;
  status: CheckStatus;
  /** What was found (flavour, dtypes) or why it failed. */
  detail: string;
  ms: number;
  /** Peak RSS of this process while the check ran (the part's session, or the generation). */
  peakRssBytes?: number;
  file?: string;
  /** model.onnx plus its external weights. */
  bytes?: number;
  inputs?: readonly ValueInfo[];
  outputs?: readonly ValueInfo[];
}

export interface DownloadReport {
  /** Whether `.sdbot-download.json` is present and readable. */
  present: boolean;
  detail: string;
  /** Files the marker lists that are now missing or of another size. */
  changed: string[];
}

export interface VerifyReport {
  directory: string;
  download: DownloadReport;
  parts: PartReport[];
  /** The problems found, one sentence each; empty when the model is fit to serve. */
  problems: string[];
}

type Adapter = (model: InferenceModel) => string;

const FLOAT16 = 'float16';

function precision(model: InferenceModel): string {
  const floats = [...model.inputs, ...model.outputs].filter((port) => port.dtype.startsWith('float'));
  return floats.some((port) => port.dtype === FLOAT16) ? 'fp16' : 'fp32';
}

function dtypeOf(ports: readonly ValueInfo[], name: string): string {
  return ports.find((port) => port.name === name)?.dtype ?? '?';
}

/** The pipeline's check of each part, and the exporter flavour it found, in words. */
const PARTS: readonly { part: string; required: boolean; adapt: Adapter }[] = [
  {
    part: 'text_encoder',
    required: true,
    adapt: (model) => {
      const { hiddenSize } = adaptTextEncoder(model);
      const width = hiddenSize === undefined ? '' : `, hidden size ${hiddenSize}`;
      return `${precision(model)}, input_ids ${dtypeOf(model.inputs, 'input_ids')}${width}`;
    },
  },
  {
    part: 'unet',
    required: true,
    adapt: (model) => {
      const signature = adaptUnet(model);
      const length = signature.timestepLength === 1 ? ', fixed length 1' : '';
      return `${precision(model)}, timestep ${dtypeOf(model.inputs, 'timestep')} rank ${signature.timestepRank}${length}`;
    },
  },
  {
    part: 'vae_decoder',
    required: true,
    adapt: (model) => {
      adaptVaeDecoder(model);
      return precision(model);
    },
  },
  {
    part: 'vae_encoder',
    required: false,
    adapt: (model) => `${precision(model)}, outputs ${adaptVaeEncoder(model).output}`,
  },
  {
    part: 'safety_checker',
    required: false,
    adapt: (model) => {
      adaptSafetyChecker(model);
      return precision(model);
    },
  },
];

const SMALLEST_SIZE = 64;

async function fileSize(path: string): Promise<number | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() === true ? info.size : undefined;
}

/** model.onnx and the external weights beside it (weights.pb, model.onnx_data...). */
async function partBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (entry.isFile()) total += (await fileSize(join(folder, entry.name))) ?? 0;
  }
  return total;
}

async function declaredParts(root: string): Promise<Set<string> | string> {
  try {
    const index = JSON.parse(await readFile(join(root, 'model_index.json'), 'utf8')) as unknown;
    if (typeof index !== 'object' || index === null || Array.isArray(index)) {
      return 'model_index.json must hold a JSON object';
    }
    const entries = Object.entries(index as Record<string, unknown>);
    return new Set(
      entries
        .filter(([, value]) => Array.isArray(value) && value.some((item) => item !== null))
        .map(([key]) => key),
    );
  } catch (error) {
    return `model_index.json is missing or not JSON (${error instanceof Error ? error.message : String(error)})`;
  }
}

async function checkDownload(root: string): Promise<DownloadReport> {
  const marker = await readMarker(root);
  if (marker === undefined) {
    const present = (await fileSize(join(root, DOWNLOAD_MARKER))) !== undefined;
    return {
      present: false,
      detail: present
        ? `${DOWNLOAD_MARKER} is unreadable: the download may not have finished`
        : 'not downloaded by sdbot (no .sdbot-download.json)',
      changed: [],
    };
  }
  const changed: string[] = [];
  for (const file of marker.files) {
    if ((await fileSize(join(root, file.path))) !== file.size) changed.push(file.path);
  }
  return {
    present: true,
    detail: `downloaded by sdbot: ${marker.repo}@${marker.revision} (commit ${marker.commit.slice(0, 12)}) on ${marker.completedAt}`,
    changed,
  };
}

async function checkPart(
  root: string,
  { part, adapt }: (typeof PARTS)[number],
  settings: SessionSettings,
): Promise<PartReport & { minimumSize?: { width: number; height: number } }> {
  const folder = join(root, part);
  const file = join(folder, 'model.onnx');
  if ((await fileSize(file)) === undefined) {
    return { part, status: 'failed', detail: `${file} is missing`, ms: 0, file };
  }
  const bytes = await partBytes(folder);
  const started = performance.now();
  let model: InferenceModel | undefined;
  try {
    model = await openOnnxModel(file, settings);
    const detail = adapt(model);
    const { inputs, outputs } = model;
    const report = { part, status: 'ok' as const, detail, ms: performance.now() - started, file, bytes };
    // A UNet exported with a fixed sample size can only generate that size.
    const sample = part === 'unet' ? inputs.find((input) => input.name === 'sample') : undefined;
    const [height, width] = [sample?.shape[2], sample?.shape[3]];
    const fixed =
      typeof height === 'number' && typeof width === 'number'
        ? { minimumSize: { width: width * 8, height: height * 8 } }
        : {};
    return { ...report, inputs, outputs, ...fixed };
  } catch (error) {
    const detail = toSdbotError(error).message;
    return { part, status: 'failed', detail, ms: performance.now() - started, file, bytes };
  } finally {
    await model?.release();
  }
}

export interface VerifyOptions extends SessionSettings {
  logger?: Logger;
}

export async function verifyModelDirectory(directory: string, options: VerifyOptions): Promise<VerifyReport> {
  const root = resolve(directory);
  const download = await checkDownload(root);
  const problems = download.changed.map(
    (path) => `${join(root, path)} is missing or differs in size from what was downloaded`,
  );
  const declared = await declaredParts(root);
  if (typeof declared === 'string') {
    return { directory: root, download, parts: [], problems: [...problems, `${root}/${declared}`] };
  }

  const parts: PartReport[] = [];
  const size = { width: SMALLEST_SIZE, height: SMALLEST_SIZE };
  const memory = new PeakRss().start();
  try {
    return await verifyParts(root, download, declared, problems, options, memory, parts, size);
  } finally {
    memory.stop();
  }
}

async function verifyParts(
  root: string,
  download: DownloadReport,
  declared: Set<string>,
  problems: string[],
  options: VerifyOptions,
  memory: PeakRss,
  parts: PartReport[],
  smallest: { width: number; height: number },
): Promise<VerifyReport> {
  let size = smallest;
  for (const spec of PARTS) {
    if (!spec.required && !declared.has(spec.part)) {
      parts.push({ part: spec.part, status: 'skipped', detail: 'not in this export', ms: 0 });
      continue;
    }
    const checked = await memory.during(() => checkPart(root, spec, options));
    const { minimumSize, ...partReport } = checked.value;
    const report = { ...partReport, peakRssBytes: checked.peakBytes };
    if (minimumSize !== undefined) size = minimumSize;
    parts.push(report);
    if (report.status === 'failed') problems.push(`${spec.part}: ${report.detail}`);
  }

  const generation = `generate (1 step, ${size.width}x${size.height})`;
  if (problems.length > 0) {
    parts.push({ part: generation, status: 'skipped', detail: 'a part failed', ms: 0 });
    return { directory: root, download, parts, problems };
  }
  const started = performance.now();
  memory.reset();
  try {
    const pipeline = await StableDiffusionPipeline.load(root, {
      ...options,
      safetyChecker: declared.has('safety_checker'),
    });
    let result;
    try {
      result = await pipeline.generate({
        prompt: 'a photo of a cat',
        seed: 0,
        steps: 1,
        guidance: 7.5,
        scheduler: 'euler',
        ...size,
      });
    } finally {
      await pipeline.release();
    }
    const image = result.images[0];
    const flagged = image?.nsfw === true ? ', flagged by the safety checker' : '';
    parts.push({
      part: generation,
      status: 'ok',
      detail: `${result.images.length} image, ${image?.width ?? 0}x${image?.height ?? 0}${flagged}`,
      ms: performance.now() - started,
      peakRssBytes: memory.peakBytes(),
    });
  } catch (error) {
    const detail = toSdbotError(error).message;
    parts.push({ part: generation, status: 'failed', detail, ms: performance.now() - started });
    problems.push(`generation failed: ${detail}`);
  }
  return { directory: root, download, parts, problems };
}
