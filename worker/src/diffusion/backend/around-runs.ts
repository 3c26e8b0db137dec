/** A model whose runs pass through a wrapper: timing them, watching what they are asked. */
import type { Tensor } from './tensor.js';
import type { InferenceModel } from './types.js';

type Outputs = Record<string, Tensor>;

/** The same model, with every run passed through `around` (which calls `run` to do it). */
export function aroundRuns(
  model: InferenceModel,
  around: (run: () => Promise<Outputs>, feeds: Readonly<Record<string, Tensor>>) => Promise<Outputs>,
): InferenceModel {
  return {
    file: model.file,
    provider: model.provider,
    inputs: model.inputs,
    outputs: model.outputs,
    run: (feeds, outputNames) => around(() => model.run(feeds, outputNames), feeds),
    release: () => model.release(),
  };
}
