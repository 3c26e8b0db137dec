/** How a worker runs onnxruntime: the provider, threads, graph optimization and memory settings. */
import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '../protocol/worker.js';
import { integer, toggle, variable } from './values.js';

export const ONNX_RUNTIME_VARIABLES = {
  executionProvider: variable({
    env: 'SDBOT_EXECUTION_PROVIDER',
    schema: z.enum(EXECUTION_PROVIDERS),
    default: 'cpu',
    description: 'onnxruntime execution provider: cpu, webgpu, cuda or tensorrt (falls back to cpu).',
  }),
  intraOpThreads: variable({
    env: 'SDBOT_THREADS',
    schema: integer(0, 1024),
    default: 0,
    description: 'onnxruntime intra-op threads (0: one per core).',
  }),
  graphOptimization: variable({
    env: 'SDBOT_GRAPH_OPTIMIZATION',
    schema: z.enum(['disabled', 'basic', 'extended', 'all']),
    default: 'all',
    description: 'onnxruntime graph optimization level.',
  }),
  cpuMemArena: variable({
    env: 'SDBOT_CPU_MEM_ARENA',
    schema: toggle,
    default: false,
    description:
      "onnxruntime's CPU memory arena: off keeps a worker's memory low; on, other square sizes run as fast.",
  }),
  prepackMaxMb: variable({
    env: 'SDBOT_PREPACK_MAX_MB',
    schema: integer(0, 1_000_000),
    default: 1024,
    description:
      'Models smaller than this (MB) get weight prepacking; larger ones (SD 1.x UNet) do not. 0: none.',
  }),
  unetMaxRows: variable({
    env: 'SDBOT_UNET_MAX_ROWS',
    schema: integer(0, 64),
    default: 0,
    description:
      'Most UNet rows one onnxruntime run takes (2 per image with guidance). 0: 1 on cpu, all on a GPU.',
  }),
  warmup: variable({
    env: 'SDBOT_WARMUP',
    schema: toggle,
    default: true,
    description:
      "Run each SD model once at 512x512 before taking jobs: no job pays first-run costs or loses that size's memory plan.",
  }),
};
