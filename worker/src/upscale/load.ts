/** Opens every configured upscaler once (SDBOT_UPSCALERS / `--upscaler`), releasing all on failure. */
import type { Config, Logger } from '@sdbot/shared';
import { Upscaler } from './upscaler.js';

export async function loadUpscalers(
  paths: readonly string[],
  config: Config,
  logger: Logger,
): Promise<Upscaler[]> {
  const loaded: Upscaler[] = [];
  try {
    for (const path of paths) {
      const upscaler = await Upscaler.load(path, {
        provider: config.worker.executionProvider,
        intraOpThreads: config.worker.intraOpThreads,
        graphOptimization: config.worker.graphOptimization,
        logger,
      });
      logger.info(
        { upscaler: upscaler.info.id, scale: upscaler.info.scale, file: upscaler.info.file },
        'upscaler:loaded',
      );
      loaded.push(upscaler);
    }
  } catch (error) {
    await Promise.all(loaded.map((upscaler) => upscaler.release()));
    throw error;
  }
  return loaded;
}
