import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOnnxModel } from '../../worker/src/diffusion/backend/onnx.js';
import type { InferenceModel, SessionSettings } from '../../worker/src/diffusion/backend/types.js';
import { adaptUnet } from '../../worker/src/diffusion/model-adapters.js';
import { buildOnnxModel } from '../helpers/onnx-builder.js';
import { useTemporaryDirectory } from '../helpers/temporary-directory.js';

const settings: SessionSettings = { provider: 'cpu', intraOpThreads: 1, graphOptimization: 'all' };

describe('onnxruntime backend', () => {
  const directory = useTemporaryDirectory('sdbot-onnx-');
  /** Writes the built model as `name`, opens it, runs `body` on it and releases it. */
  const withModel = async (
    name: string,
    bytes: Uint8Array,
    body: (model: InferenceModel) => Promise<void>,
  ) => {
    const path = join(directory.path, name);
    writeFileSync(path, bytes);
    const model = await openOnnxModel(path, settings);
    try {
      await body(model);
    } finally {
      await model.release();
    }
  };

  it('feeds float32 to a float16 model and reads its float16 output back as float32', async () => {
    await withModel(
      'half.onnx',
      buildOnnxModel(
        [{ name: 'x', type: 'float16', shape: ['n'] }],
        [{ name: 'y', type: 'float16', shape: ['n'] }],
        [{ op: 'Add', inputs: ['x', 'x'], outputs: ['y'] }],
      ),
      async (model) => {
        expect(model.inputs).toEqual([{ name: 'x', dtype: 'float16', shape: ['n'] }]);
        const { y } = await model.run({
          x: { dtype: 'float32', data: Float32Array.of(1.5, -2, 1 / 3, 40000), dims: [4] },
        });
        expect(y?.dtype).toBe('float32');
        // 1/3 rounds to the half 0.333251953125; 2 * 40000 overflows half precision to infinity.
        expect(Array.from(y?.data as Float32Array)).toEqual([3, -4, 0.66650390625, Infinity]);
      },
    );
  });

  it('widens int32 token ids for an int64 text encoder (the optimum export)', async () => {
    await withModel(
      'ids.onnx',
      buildOnnxModel(
        [{ name: 'input_ids', type: 'int64', shape: ['batch', 'sequence'] }],
        [{ name: 'ids_seen', type: 'float32', shape: ['batch', 'sequence'] }],
        [{ op: 'Cast', inputs: ['input_ids'], outputs: ['ids_seen'], intAttributes: { to: 1 } }],
      ),
      async (model) => {
        const { ids_seen: seen } = await model.run({
          input_ids: { dtype: 'int32', data: Int32Array.of(49406, 320, 49407), dims: [1, 3] },
        });
        expect(seen).toEqual({ dtype: 'float32', data: Float32Array.of(49406, 320, 49407), dims: [1, 3] });
      },
    );
  });

  it('passes a rank-0 timestep to an int64 scalar input and reports the signature', async () => {
    await withModel(
      'unet.onnx',
      buildOnnxModel(
        [
          { name: 'sample', type: 'float16', shape: ['batch', 4, 'height', 'width'] },
          { name: 'timestep', type: 'int64', shape: [] },
          { name: 'encoder_hidden_states', type: 'float16', shape: ['batch', 'sequence', 8] },
        ],
        [
          { name: 'out_sample', type: 'float16', shape: ['batch', 4, 'height', 'width'] },
          { name: 'step_seen', type: 'int64', shape: [] },
        ],
        [
          { op: 'Identity', inputs: ['sample'], outputs: ['out_sample'] },
          { op: 'Identity', inputs: ['timestep'], outputs: ['step_seen'] },
        ],
      ),
      async (model) => {
        const signature = adaptUnet({
          ...model,
          outputs: model.outputs.filter((port) => port.name === 'out_sample'),
        });
        expect(signature).toEqual({ timestepRank: 0, timestepLength: 'batch' });
        const sample = Float32Array.from({ length: 4 }, (_, index) => index / 2);
        const outputs = await model.run({
          sample: { dtype: 'float32', data: sample, dims: [1, 4, 1, 1] },
          timestep: { dtype: 'float32', data: Float32Array.of(946.47), dims: [] },
          encoder_hidden_states: { dtype: 'float32', data: new Float32Array(8), dims: [1, 1, 8] },
        });
        expect(outputs.step_seen).toEqual({ dtype: 'int64', data: BigInt64Array.of(946n), dims: [] });
        expect(Array.from(outputs.out_sample?.data as Float32Array)).toEqual([0, 0.5, 1, 1.5]);
      },
    );
  });
});
