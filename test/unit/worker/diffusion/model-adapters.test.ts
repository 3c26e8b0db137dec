import { SdbotError } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import type { ValueInfo } from '../../../../worker/src/diffusion/backend/types.js';
import {
  adaptSafetyChecker,
  adaptTextEncoder,
  adaptUnet,
  adaptVaeDecoder,
  adaptVaeEncoder,
} from '../../../../worker/src/diffusion/model-adapters.js';

const port = (name: string, dtype: string, shape: ValueInfo['shape']): ValueInfo => ({ name, dtype, shape });

// What the diffusers convert script exports (read from tiny-sd's sessions).
const diffusersUnet = {
  file: 'unet/model.onnx',
  inputs: [
    port('sample', 'float32', ['batch', 'channels', 'height', 'width']),
    port('timestep', 'float32', ['batch']),
    port('encoder_hidden_states', 'float32', ['batch', 'sequence', 768]),
  ],
  outputs: [port('out_sample', 'float32', ['b', 4, 'h', 'w'])],
};

function modelInvalid(run: () => unknown): SdbotError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SdbotError);
    expect((error as SdbotError).code).toBe('MODEL_INVALID');
    return error as SdbotError;
  }
  throw new Error('expected MODEL_INVALID');
}

describe('model signature adapters', () => {
  it('accepts the diffusers export: int32 ids, float timestep of rank 1', () => {
    expect(
      adaptTextEncoder({
        file: 'text_encoder/model.onnx',
        inputs: [port('input_ids', 'int32', ['batch', 'sequence'])],
        outputs: [
          port('last_hidden_state', 'float32', ['b', 's', 768]),
          port('pooler_output', 'float32', ['b', 768]),
        ],
      }),
    ).toEqual({ hiddenSize: 768 });
    expect(adaptUnet(diffusersUnet)).toEqual({ timestepRank: 1, timestepLength: 'batch' });
  });

  it('accepts the optimum export: int64 ids, int64 timestep, rank-0 float timestep', () => {
    expect(
      adaptTextEncoder({
        file: 'text_encoder/model.onnx',
        inputs: [port('input_ids', 'int64', ['batch', 'sequence'])],
        outputs: [port('last_hidden_state', 'float16', ['b', 's', 'd'])],
      }),
    ).toEqual({ hiddenSize: undefined });
    const withTimestep = (timestep: ValueInfo) => ({
      ...diffusersUnet,
      inputs: diffusersUnet.inputs.map((input) => (input.name === 'timestep' ? timestep : input)),
    });
    expect(adaptUnet(withTimestep(port('timestep', 'int64', ['batch'])))).toEqual({
      timestepRank: 1,
      timestepLength: 'batch',
    });
    expect(adaptUnet(withTimestep(port('timestep', 'float32', [])))).toEqual({
      timestepRank: 0,
      timestepLength: 'batch',
    });
    expect(adaptUnet(withTimestep(port('timestep', 'int64', [1])))).toEqual({
      timestepRank: 1,
      timestepLength: 1,
    });
  });

  it('tells the two VAE encoder outputs apart', () => {
    const encoder = (output: string, channels: number) => ({
      file: 'vae_encoder/model.onnx',
      inputs: [port('sample', 'float32', ['b', 3, 'H', 'W'])],
      outputs: [port(output, 'float32', ['b', channels, 'h', 'w'])],
    });
    expect(adaptVaeEncoder(encoder('latent_sample', 4))).toEqual({ output: 'latent_sample' });
    expect(adaptVaeEncoder(encoder('latent_parameters', 8))).toEqual({ output: 'latent_parameters' });
  });

  it('rejects a unet whose input is renamed, naming the file and what was expected', () => {
    const renamed = {
      ...diffusersUnet,
      inputs: diffusersUnet.inputs.map((input) =>
        input.name === 'sample' ? { ...input, name: 'x' } : input,
      ),
    };
    const error = modelInvalid(() => adaptUnet(renamed));
    expect(error.message).toContain('unet/model.onnx: expected inputs sample (float32 or float16, rank 4)');
    expect(error.message).toContain('the model has x (float32, rank 4)');
  });

  it('rejects wrong ranks, extra inputs, wrong dtypes and missing outputs', () => {
    modelInvalid(() =>
      adaptUnet({
        ...diffusersUnet,
        inputs: diffusersUnet.inputs.map((input) =>
          input.name === 'timestep' ? port('timestep', 'float32', ['b', 1]) : input,
        ),
      }),
    );
    modelInvalid(() =>
      adaptUnet({
        ...diffusersUnet,
        inputs: [...diffusersUnet.inputs, port('text_embeds', 'float32', ['b', 1280])],
      }),
    );
    modelInvalid(() =>
      adaptTextEncoder({
        file: 'text_encoder/model.onnx',
        inputs: [port('input_ids', 'float32', ['b', 's'])],
        outputs: [port('last_hidden_state', 'float32', ['b', 's', 768])],
      }),
    );
    const error = modelInvalid(() => {
      adaptVaeDecoder({
        file: 'vae_decoder/model.onnx',
        inputs: [port('latent_sample', 'float32', ['b', 4, 'h', 'w'])],
        outputs: [port('image', 'float32', ['b', 3, 'H', 'W'])],
      });
    });
    expect(error.message).toBe(
      'vae_decoder/model.onnx: expected output sample (float32 or float16, rank 4); the model has image (float32, rank 4)',
    );
    modelInvalid(() => {
      adaptSafetyChecker({
        file: 'safety_checker/model.onnx',
        inputs: [
          port('clip_input', 'float32', ['b', 3, 224, 224]),
          port('images', 'float32', ['b', 'h', 'w', 3]),
        ],
        outputs: [port('out_images', 'float32', ['b', 'h', 'w', 3])],
      });
    });
  });
});
