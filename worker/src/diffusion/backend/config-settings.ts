/** The session settings a command or the worker takes from the configuration (SDBOT_* variables). */
import type { Config, Logger } from '@sdbot/shared';
import type { SessionSettings } from './types.js';

const MB = 1024 ** 2;

export function sessionSettingsFrom(config: Config, logger?: Logger): SessionSettings {
  const { executionProvider, intraOpThreads, graphOptimization, cpuMemArena, prepackMaxMb } = config.worker;
  return {
    provider: executionProvider,
    intraOpThreads,
    graphOptimization,
    cpuMemArena,
    prepackMaxBytes: prepackMaxMb * MB,
    ...(logger === undefined ? {} : { logger }),
  };
}
