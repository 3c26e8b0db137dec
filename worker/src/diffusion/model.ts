/**
 * Loads a diffusers ONNX export directory (pipeline spec, section 1): reads model_index.json and
 * the configs, opens a session per part, and checks every part's inputs and outputs so a wrong or
 * incomplete directory fails at load with MODEL_INVALID naming the file, not mid-job.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { SdbotError, type ExecutionProviderName } from '@sdbot/shared';
import { z } from 'zod';
import { InferenceThread } from './backend/inference-thread-host.js';
import { openOnnxModel } from './backend/onnx.js';
import type { InferenceModel, SessionSettings } from './backend/types.js';
import type { ClipImageConfig } from './image/clip-preprocess.js';
import {
  adaptSafetyChecker,
  adaptTextEncoder,
  adaptUnet,
  adaptVaeDecoder,
  adaptVaeEncoder,
  type UnetSignature,
  type VaeEncoderSignature,
} from './model-adapters.js';
import { hashModelDirectory } from './model-hash.js';
import type { SchedulerConfig } from './schedulers/index.js';
import { ClipTokenizer } from './tokenizer.js';

export interface ModelDirectoryInfo {
  /** The directory's name, used as the model's display name. */
  name: string;
  directory: string;
  /** Short content hash (see model-hash.ts for what it covers). */
  hash: string;
  /** Whether a safety checker is loaded and runs on every image. */
  safetyChecker: boolean;
  /** Where the sessions run (the configured provider, or cpu after a fallback). */
  provider: ExecutionProviderName;
}

export interface StableDiffusionModel {
  info: ModelDirectoryInfo;
  tokenizer: ClipTokenizer;
  schedulerConfig: SchedulerConfig;
  textEncoder: InferenceModel;
  unet: { model: InferenceModel; signature: UnetSignature };
  /**
   * Prompt chunks of 77 tokens the UNet's `encoder_hidden_states` must have, when the export fixes
   * its sequence length (undefined: any number, the usual dynamic axis).
   */
  fixedPromptChunks: number | undefined;
  vaeDecoder: InferenceModel;
  /** Absent when the export has none: img2img is then refused. */
  vaeEncoder: { model: InferenceModel; signature: VaeEncoderSignature } | undefined;
  safetyChecker: SafetyCheckerModel | undefined;
  release(): Promise<void>;
}

export interface LoadModelOptions extends SessionSettings {
  /** Load and run the export's safety checker; when true, an export without one is refused. */
  safetyChecker: boolean;
}

const OPTIONAL_PARTS = ['vae_encoder', 'safety_checker'] as const;

function invalid(message: string, cause?: unknown): SdbotError {
  return new SdbotError('MODEL_INVALID', message, cause === undefined ? {} : { cause });
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw invalid(`${path} is missing or unreadable (${what})`, cause);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw invalid(`${path} is not valid JSON (${what})`, cause);
  }
}

async function requireFile(path: string, what: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw invalid(`${path} is missing (${what})`);
}

const modelIndexSchema = z.record(z.string(), z.unknown());

/** model_index.json lists optional parts as [library, class], or [null, null] when left out. */
function declaresPart(modelIndex: Record<string, unknown>, part: string): boolean {
  const entry = modelIndex[part];
  return Array.isArray(entry) && entry.some((item) => item !== null);
}

const sizeSchema = z.union([
  z.number().int().positive(),
  z.object({ shortest_edge: z.number().int().positive() }),
]);
const cropSchema = z.union([
  z.number().int().positive(),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
]);
const triple = z.tuple([z.number(), z.number(), z.number()]);
const preprocessorSchema = z.object({
  size: sizeSchema.default(224),
  crop_size: cropSchema.default(224),
  image_mean: triple,
  image_std: triple,
  // 3 is PIL's BICUBIC, the only filter the reference feature extractor uses.
  resample: z.literal(3).default(3),
});

async function readClipImageConfig(path: string): Promise<ClipImageConfig> {
  const parsed = preprocessorSchema.safeParse(await readJson(path, 'the safety checker image preprocessing'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`${path}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'is invalid'}`);
  }
  const { size, crop_size: crop, image_mean: mean, image_std: std } = parsed.data;
  const shortestEdge = typeof size === 'number' ? size : size.shortest_edge;
  const [cropHeight, cropWidth] = typeof crop === 'number' ? [crop, crop] : [crop.height, crop.width];
  if (cropHeight > shortestEdge || cropWidth > shortestEdge) {
    throw invalid(
      `${path}: crop_size ${cropWidth}x${cropHeight} is larger than the resized image (${shortestEdge})`,
    );
  }
  return { shortestEdge, cropHeight, cropWidth, mean, std };
}

async function readSchedulerConfig(path: string): Promise<SchedulerConfig> {
  const config = await readJson(path, 'the noise schedule');
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalid(`${path} must hold a JSON object`);
  }
  return config as SchedulerConfig;
}

async function loadTokenizer(directory: string): Promise<ClipTokenizer> {
  try {
    return await ClipTokenizer.fromDirectory(directory);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw invalid(`${directory}: the CLIP tokenizer cannot be loaded (${reason})`, cause);
  }
}

async function readModelIndex(root: string): Promise<Record<string, unknown>> {
  const rootInfo = await stat(root).catch(() => undefined);
  if (!rootInfo?.isDirectory()) throw invalid(`${root} is not a model directory`);
  const modelIndexPath = join(root, 'model_index.json');
  const modelIndex = modelIndexSchema.safeParse(await readJson(modelIndexPath, 'the list of pipeline parts'));
  if (!modelIndex.success) throw invalid(`${modelIndexPath} must hold a JSON object`);
  return modelIndex.data;
}

const partFile = (root: string, part: string) => join(root, part, 'model.onnx');

export interface SafetyCheckerModel {
  model: InferenceModel;
  imageConfig: ClipImageConfig;
}

/** The safety checker's files, once its presence is established; opened by `openSafetyChecker`. */
async function readSafetyCheckerConfig(root: string): Promise<ClipImageConfig> {
  await requireFile(partFile(root, 'safety_checker'), 'model_index.json lists safety_checker');
  return readClipImageConfig(join(root, 'feature_extractor', 'preprocessor_config.json'));
}

async function openSafetyChecker(
  root: string,
  imageConfig: ClipImageConfig,
  settings: SessionSettings,
): Promise<SafetyCheckerModel> {
  const model = await openOnnxModel(partFile(root, 'safety_checker'), settings);
  try {
    adaptSafetyChecker(model);
  } catch (error) {
    await model.release();
    throw error;
  }
  return { model, imageConfig };
}

/**
 * Loads only the safety checker and its image preprocessing (for checking existing images);
 * an export without one fails with MODEL_INVALID saying so.
 */
export async function loadSafetyChecker(
  directory: string,
  settings: SessionSettings,
): Promise<SafetyCheckerModel> {
  const root = resolve(directory);
  if (!declaresPart(await readModelIndex(root), 'safety_checker')) {
    throw invalid(`${root} has no safety_checker (model_index.json does not list one)`);
  }
  return openSafetyChecker(root, await readSafetyCheckerConfig(root), settings);
}

/**
 * Opens every part in the model's own inference thread (one per model, shared by every slot);
 * any failure releases what was already opened.
 */
export async function loadModelDirectory(
  directory: string,
  options: LoadModelOptions,
): Promise<StableDiffusionModel> {
  const root = resolve(directory);
  const modelIndex = await readModelIndex(root);
  const declared = new Set(OPTIONAL_PARTS.filter((part) => declaresPart(modelIndex, part)));
  if (options.safetyChecker && !declared.has('safety_checker')) {
    throw invalid(
      `${root} has no safety_checker; serving it needs the safety checker turned off (SDBOT_SAFETY_CHECKER=off or --no-safety)`,
    );
  }
  const runSafety = options.safetyChecker;

  const file = (part: string) => partFile(root, part);
  for (const part of ['text_encoder', 'unet', 'vae_decoder'])
    await requireFile(file(part), `every export has ${part}`);
  if (declared.has('vae_encoder'))
    await requireFile(file('vae_encoder'), 'model_index.json lists vae_encoder');
  const imageConfig = runSafety ? await readSafetyCheckerConfig(root) : undefined;

  const schedulerConfig = await readSchedulerConfig(join(root, 'scheduler', 'scheduler_config.json'));
  const tokenizer = await loadTokenizer(join(root, 'tokenizer'));

  const thread = new InferenceThread(basename(root), options.logger);
  const opened: InferenceModel[] = [];
  const closeAll = async () => {
    await Promise.all(opened.map((model) => model.release()));
    await thread.close();
  };
  const open = async (part: string) => {
    const model = await thread.open(file(part), options);
    opened.push(model);
    return model;
  };
  try {
    const textEncoder = await open('text_encoder');
    const { hiddenSize } = adaptTextEncoder(textEncoder);
    const unetModel = await open('unet');
    const unetSignature = adaptUnet(unetModel);
    const unetWidth = unetModel.inputs.find((input) => input.name === 'encoder_hidden_states')?.shape[2];
    if (hiddenSize !== undefined && typeof unetWidth === 'number' && unetWidth !== hiddenSize) {
      throw invalid(
        `${unetModel.file}: encoder_hidden_states is ${unetWidth} wide but the text encoder produces ${hiddenSize}`,
      );
    }
    const sequence = unetModel.inputs.find((input) => input.name === 'encoder_hidden_states')?.shape[1];
    const fixedPromptChunks =
      typeof sequence === 'number' ? Math.max(1, Math.floor(sequence / tokenizer.maxLength)) : undefined;
    const vaeDecoder = await open('vae_decoder');
    adaptVaeDecoder(vaeDecoder);
    let vaeEncoder: StableDiffusionModel['vaeEncoder'];
    if (declared.has('vae_encoder')) {
      const model = await open('vae_encoder');
      vaeEncoder = { model, signature: adaptVaeEncoder(model) };
    }
    let safetyChecker: StableDiffusionModel['safetyChecker'];
    if (imageConfig !== undefined) {
      const model = await open('safety_checker');
      adaptSafetyChecker(model);
      safetyChecker = { model, imageConfig };
    }
    const info: ModelDirectoryInfo = {
      name: basename(root),
      directory: root,
      hash: await hashModelDirectory(root),
      safetyChecker: safetyChecker !== undefined,
      provider: unetModel.provider,
    };
    return {
      info,
      tokenizer,
      schedulerConfig,
      textEncoder,
      unet: { model: unetModel, signature: unetSignature },
      fixedPromptChunks,
      vaeDecoder,
      vaeEncoder,
      safetyChecker,
      release: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
