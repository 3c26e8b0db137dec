import { createLogger, loadConfig, stringOption, UsageError, type CommandDefinition } from '@sdbot/shared';
import { loadSafetyChecker } from '../diffusion/model.js';
import { checkSafety } from '../diffusion/stages/safety.js';
import type { DecodedImage } from '../diffusion/stages/vae.js';
import { readRgbImage } from '../image-io.js';
import { sessionSettingsFrom } from '../diffusion/backend/config-settings.js';

/** An image file in the form the safety stage takes after the VAE: 8-bit and 0..1 float HWC RGB. */
async function readCheckedImage(file: string): Promise<DecodedImage> {
  const { rgb, width, height } = await readRgbImage(file);
  const values = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) values[i] = (rgb[i] ?? 0) / 255;
  return { width, height, pixels: rgb, values };
}

export const safetyCheckCommand: CommandDefinition = {
  name: 'safety-check',
  summary: "Run a model's safety checker on image files and say which ones it flags",
  usage: '--model DIR [--json] IMAGE...',
  allowPositionals: true,
  options: {
    model: {
      type: 'string',
      valueName: 'DIR',
      description: 'Model directory whose safety_checker/ and feature_extractor/ to use',
    },
    json: { type: 'boolean', description: 'Print one JSON object per image: {"file":...,"nsfw":...}' },
  },
  details:
    'Only the safety checker is loaded, on SDBOT_EXECUTION_PROVIDER. The exit code is 0 once every\n' +
    'image was checked, flagged or not; it is non-zero when an image or the model cannot be read.',
  async run({ options, positionals, env, stdout }) {
    const config = loadConfig({ env });
    const modelDirectory = stringOption(options, 'model', { required: true }) ?? '';
    if (positionals.length === 0) {
      throw new UsageError('no images given: sdbot safety-check --model DIR IMAGE...');
    }
    // Every file is read before the model loads, so a typo fails fast and names the file.
    const images: DecodedImage[] = [];
    for (const file of positionals) images.push(await readCheckedImage(file));

    const checker = await loadSafetyChecker(modelDirectory, {
      ...sessionSettingsFrom(config),
      logger: createLogger({ name: 'cli', level: env.LOG_LEVEL === undefined ? 'warn' : config.log.level }),
    });
    let flags: boolean[];
    try {
      flags = await checkSafety(checker.model, checker.imageConfig, images);
    } finally {
      await checker.model.release();
    }
    for (const [index, file] of positionals.entries()) {
      const nsfw = flags[index] ?? false;
      stdout.write(
        options.json === true
          ? `${JSON.stringify({ file, nsfw })}\n`
          : `${file}: ${nsfw ? 'FLAGGED by the safety checker' : 'not flagged'}\n`,
      );
    }
    return 0;
  },
};
