import { SdbotError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { findExportRoots, selectExportFiles } from '../../../worker/src/models/export-layout.js';
import type { HubTreeFile } from '../../../worker/src/models/hub-client.js';

const EXPORT = [
  'model_index.json',
  'text_encoder/model.onnx',
  'unet/model.onnx',
  'unet/weights.pb',
  'vae_encoder/model.onnx',
  'vae_decoder/model.onnx',
  'safety_checker/model.onnx',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'scheduler/scheduler_config.json',
  'feature_extractor/preprocessor_config.json',
];

function listing(paths: string[]): HubTreeFile[] {
  return paths.map((path) => ({ path, size: 1, oid: '0'.repeat(40) }));
}

function selected(paths: string[], subfolder?: string): string[] {
  return selectExportFiles(listing(paths), { repo: 'acme/sd', revision: 'main', subfolder })
    .files.map((file) => file.localPath)
    .sort();
}

function failure(paths: string[], subfolder?: string): SdbotError {
  try {
    selectExportFiles(listing(paths), { repo: 'acme/sd', revision: 'main', subfolder });
  } catch (error) {
    expect(error).toBeInstanceOf(SdbotError);
    return error as SdbotError;
  }
  throw new Error('expected the selection to fail');
}

describe('ONNX export file selection', () => {
  it('keeps the pipeline folders and model_index.json, with external weights, and nothing else', () => {
    const extra = [
      'README.md',
      '.gitattributes',
      'v1-5-pruned.ckpt',
      'sample.png',
      'unet/diffusion_pytorch_model.safetensors',
      'unet/diffusion_pytorch_model.bin',
      'text_encoder/model.onnx_data',
      'unet/config.json',
      'controlnet/model.onnx',
      'text_encoder_2/model.onnx',
      'unet/../../outside.onnx',
      'tokenizer//vocab.json',
    ];
    expect(selected([...EXPORT, ...extra])).toEqual(
      [...EXPORT, 'text_encoder/model.onnx_data', 'unet/config.json'].sort(),
    );
  });

  it('finds an export in a subfolder and stores its files relative to it', () => {
    const paths = [
      'README.md',
      'unet/diffusion_pytorch_model.safetensors',
      ...EXPORT.map((p) => `onnx/${p}`),
    ];
    expect(findExportRoots(listing(paths))).toEqual(['onnx/']);
    expect(selected(paths)).toEqual([...EXPORT].sort());
  });

  it('asks for --subfolder when several exports exist, and checks the one named', () => {
    const paths = [...EXPORT.map((p) => `fp32/${p}`), ...EXPORT.map((p) => `fp16/${p}`)];
    expect(failure(paths).message).toContain(
      'holds several ONNX exports (fp16/, fp32/): pick one with --subfolder',
    );
    expect(selected(paths, 'fp16/')).toEqual([...EXPORT].sort());
    const wrong = failure(paths, 'int8');
    expect(wrong.code).toBe('MODEL_INVALID');
    expect(wrong.message).toContain('--subfolder int8: acme/sd@main has no int8/unet/model.onnx');
    expect(wrong.message).toContain('ONNX exports found in: fp16/, fp32/');
  });

  it('names what is missing from an incomplete export', () => {
    const error = failure(EXPORT.filter((path) => !path.startsWith('tokenizer/')));
    expect(error.code).toBe('MODEL_INVALID');
    expect(error.message).toContain(
      'the ONNX export in acme/sd@main lacks tokenizer/vocab.json, tokenizer/merges.txt',
    );
  });

  it('treats the safety checker and feature extractor as optional', () => {
    const paths = EXPORT.filter((path) => !/^(safety_checker|feature_extractor)\//.test(path));
    expect(selected(paths)).toEqual([...paths].sort());
  });
});
