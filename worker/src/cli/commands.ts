import type { CommandManifestEntry } from '@sdbot/shared';

/** Commands this package adds to `sdbot`; each loads its implementation only when run. */
export const commands: CommandManifestEntry[] = [
  {
    name: 'models',
    summary: 'Download a Stable Diffusion ONNX export from the Hugging Face hub',
    load: async () => (await import('./models-command.js')).modelsCommand,
  },
];
