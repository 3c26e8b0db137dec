import { describe, expect, it } from 'vitest';
import { loadConfig } from '@sdbot/shared';
import { sessionSettingsFrom } from '../../../worker/src/diffusion/backend/config-settings.js';

describe('session settings from the configuration', () => {
  it('default to the low-memory CPU settings: arena off, no prepacking from 1 GiB', () => {
    const settings = sessionSettingsFrom(loadConfig({ env: {} }));
    expect(settings).toMatchObject({ provider: 'cpu', cpuMemArena: false, prepackMaxBytes: 1024 ** 3 });
  });

  it('SDBOT_CPU_MEM_ARENA and SDBOT_PREPACK_MAX_MB change them', () => {
    const config = loadConfig({ env: { SDBOT_CPU_MEM_ARENA: 'on', SDBOT_PREPACK_MAX_MB: '0' } });
    expect(sessionSettingsFrom(config)).toMatchObject({ cpuMemArena: true, prepackMaxBytes: 0 });
  });

  it('refuses a malformed value naming the variable', () => {
    expect(() => loadConfig({ env: { SDBOT_PREPACK_MAX_MB: 'lots' } })).toThrow(/SDBOT_PREPACK_MAX_MB/);
    expect(() => loadConfig({ env: { SDBOT_CPU_MEM_ARENA: 'maybe' } })).toThrow(/SDBOT_CPU_MEM_ARENA/);
  });
});
