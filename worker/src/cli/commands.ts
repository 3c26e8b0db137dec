import type { CommandManifestEntry } from '@sdbot/shared';

/** Commands this package adds to `sdbot`; each loads its implementation only when run. */
export const commands: CommandManifestEntry[] = [
  {
    name: 'tokenize',
    summary: 'Show the CLIP token ids a prompt becomes, and what a long prompt loses to truncation',
    load: async () => (await import('./tokenize-command.js')).tokenizeCommand,
  },
  {
    name: 'models',
    summary: 'Download a Stable Diffusion ONNX export from the Hugging Face hub, or verify a model directory',
    load: async () => (await import('./models-command.js')).modelsCommand,
  },
  {
    name: 'generate',
    summary: 'Generate images on this machine with a local model directory',
    load: async () => (await import('./generate-command.js')).generateCommand,
  },
  {
    name: 'safety-check',
    summary: "Run a model's safety checker on image files and say which ones it flags",
    load: async () => (await import('./safety-check-command.js')).safetyCheckCommand,
  },
  {
    name: 'watermark',
    summary: 'Embed or read the invisible watermark (invisible-watermark dwtDct, as CompVis txt2img)',
    load: async () => (await import('./watermark-command.js')).watermarkCommand,
  },
  {
    name: 'upscale',
    summary: 'Upscale an image file with a local super-resolution ONNX model',
    load: async () => (await import('./upscale-command.js')).upscaleCommand,
  },
  {
    name: 'worker',
    summary: 'Run a worker: pull generation jobs from NATS for the models it loads',
    load: async () => (await import('./worker-command.js')).workerCommand,
  },
];
