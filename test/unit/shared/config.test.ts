import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, listConfigVariables, loadConfig, parseDuration, redactConfig } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig({ env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to fail');
}

function writeConfigFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sdbot-config-')), 'sdbot.json');
  writeFileSync(path, content);
  return path;
}

describe('loadConfig', () => {
  it('applies documented defaults with an empty environment', () => {
    const config = loadConfig({ env: {} });
    expect(config.nats.url).toBeUndefined();
    expect(config.jetstream.maxDeliver).toBe(5);
    expect(config.jetstream.ackWaitMs).toBe(60_000);
    expect(config.limits.maxPixels).toBe(1024 * 1024);
    expect(config.worker.executionProvider).toBe('cpu');
    expect(config.discord.apiUrl).toBe('https://discord.com/api');
  });

  it('parses numbers, durations, lists, toggles and URL lists from strings', () => {
    const config = loadConfig({
      env: {
        NATS_URL: 'nats://a:4222, nats://b:4222',
        SDBOT_ACK_WAIT: '2m',
        SDBOT_MAX_DELIVER: '9',
        SDBOT_MODELS: '/models/sd15, /models/dreamshaper',
        SDBOT_SAFETY_CHECKER: 'off',
        SDBOT_DEFAULT_GUIDANCE: '6.5',
      },
    });
    expect(config.nats.url).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(config.jetstream.ackWaitMs).toBe(120_000);
    expect(config.jetstream.maxDeliver).toBe(9);
    expect(config.worker.models).toEqual(['/models/sd15', '/models/dreamshaper']);
    expect(config.worker.safetyChecker).toBe(false);
    expect(config.limits.defaultGuidance).toBe(6.5);
  });

  it.each([
    ['SDBOT_MAX_DELIVER=lots', 'must be an integer in 1..100'],
    ['SDBOT_JS_REPLICAS=7', 'must be an integer in 1..5'],
    ['SDBOT_ACK_WAIT=forever', 'must be a duration'],
    ['SDBOT_EXECUTION_PROVIDER=rocm', 'cpu'],
    ['SDBOT_SAFETY_CHECKER=maybe', 'true or false'],
    ['DISCORD_API_URL=not a url', 'must be a URL'],
    ['NATS_URL=localhost:4222', 'nats://host:port'],
    ['LOG_LEVEL=loud', 'info'],
    ['SDBOT_DEFAULT_GUIDANCE=99', 'must be a number in 0..30'],
  ])('%s fails at start naming the variable', (assignment, mentions) => {
    const [name, value] = assignment.split('=') as [string, string];
    const error = configError({ [name]: value });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.variables).toContain(name);
    expect(error.message).toContain(`${name}: `);
    expect(error.message).toContain(mentions);
  });

  it('rejects unknown SDBOT_ variables and suggests the closest name', () => {
    const error = configError({ SDBOT_MAX_PIXEL: '100' });
    expect(error.message).toContain('SDBOT_MAX_PIXEL: unknown variable; did you mean SDBOT_MAX_PIXELS?');
  });

  it('reports every problem at once', () => {
    const error = configError({ SDBOT_MAX_DELIVER: '0', SDBOT_WORKER_SLOTS: 'two' });
    expect(error.variables).toEqual(expect.arrayContaining(['SDBOT_MAX_DELIVER', 'SDBOT_WORKER_SLOTS']));
  });

  it('never echoes a malformed secret', () => {
    const error = configError({ NATS_PASSWORD: '', NATS_TOKEN: ' ' });
    expect(error.message).not.toContain('hunter2');
    const another = configError({ DISCORD_TOKEN: '   ' });
    expect(another.message).toContain('DISCORD_TOKEN');
    expect(another.message).toContain('(hidden)');
  });

  it('reads a JSON config file, with the environment taking precedence', () => {
    const path = writeConfigFile(
      JSON.stringify({ SDBOT_MAX_DELIVER: 7, SDBOT_WORKER_SLOTS: 2, NATS_URL: 'nats://file:4222' }),
    );
    const config = loadConfig({ env: { SDBOT_CONFIG: path, SDBOT_WORKER_SLOTS: '3' } });
    expect(config.jetstream.maxDeliver).toBe(7);
    expect(config.worker.slots).toBe(3);
    expect(config.nats.url).toEqual(['nats://file:4222']);
  });

  it('rejects unknown keys and malformed values in the config file', () => {
    const path = writeConfigFile(JSON.stringify({ SDBOT_MAX_DELIVERS: 7, SDBOT_WORKER_SLOTS: 0 }));
    const error = configError({ SDBOT_CONFIG: path });
    expect(error.message).toContain('SDBOT_MAX_DELIVERS');
    expect(error.message).toContain('did you mean SDBOT_MAX_DELIVER?');
    expect(error.message).toContain('SDBOT_WORKER_SLOTS: must be an integer in 1..64');
  });

  it('names SDBOT_CONFIG when the file is unreadable or not JSON', () => {
    expect(configError({ SDBOT_CONFIG: '/nonexistent/sdbot.json' }).message).toContain(
      'SDBOT_CONFIG: cannot read config file',
    );
    expect(configError({ SDBOT_CONFIG: writeConfigFile('{oops') }).message).toContain('is not valid JSON');
    expect(configError({ SDBOT_CONFIG: writeConfigFile('[1]') }).message).toContain(
      'must hold a JSON object',
    );
  });

  it('command-line overrides win over everything', () => {
    const config = loadConfig({
      env: { NATS_URL: 'nats://env:4222' },
      overrides: { NATS_URL: 'nats://flag:4222' },
    });
    expect(config.nats.url).toEqual(['nats://flag:4222']);
  });

  it('redactConfig hides secrets', () => {
    const config = loadConfig({
      env: { DISCORD_TOKEN: 'abc.def.ghi', NATS_PASSWORD: 'hunter2', NATS_USER: 'bot' },
    });
    const shown = JSON.stringify(redactConfig(config));
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('abc.def.ghi');
    expect(shown).toContain('"user":"bot"');
  });

  it('bounds a job by SDBOT_JOB_TIMEOUT (default 10 minutes, at least 5 s) and caps decoded and read images', () => {
    const defaults = loadConfig({ env: {} });
    expect(defaults.worker.jobTimeoutMs).toBe(600_000);
    expect(defaults.limits.maxInputPixels).toBe(40_000_000);
    expect(defaults.limits.maxSourceBytes).toBe(20 * 1024 * 1024);
    expect(loadConfig({ env: { SDBOT_JOB_TIMEOUT: '90s' } }).worker.jobTimeoutMs).toBe(90_000);
    for (const tooShort of ['0', '4s', '1ms']) {
      expect(configError({ SDBOT_JOB_TIMEOUT: tooShort }).message).toContain(
        `SDBOT_JOB_TIMEOUT: must be at least 5s (got "${tooShort}")`,
      );
    }
    expect(configError({ SDBOT_MAX_SOURCE_BYTES: '0' }).variables).toEqual(['SDBOT_MAX_SOURCE_BYTES']);
    expect(configError({ SDBOT_MAX_INPUT_PIXELS: '10' }).variables).toEqual(['SDBOT_MAX_INPUT_PIXELS']);
  });

  it('redactConfig hides URL credentials in any value', () => {
    const config = loadConfig({
      env: {
        NATS_URL: 'nats://bot:hunter2@nats-1:4222,nats://tok3n@nats-2:4222',
        HF_ENDPOINT: 'https://mirror-user:mirror-pass@hf.example.com/?token=abc123',
      },
    });
    const shown = JSON.stringify(redactConfig(config));
    for (const secret of ['hunter2', 'bot:', 'tok3n', 'mirror-pass', 'mirror-user', 'abc123']) {
      expect(shown).not.toContain(secret);
    }
    expect(shown).toContain('nats-1:4222');
    expect(shown).toContain('hf.example.com');
    // The configuration itself keeps the credentials the process needs.
    expect(config.nats.url?.[0]).toBe('nats://bot:hunter2@nats-1:4222');
  });

  it.each([
    ['SDBOT_ACK_WAIT', '0', 'at least 1s'],
    ['SDBOT_HEARTBEAT_INTERVAL', '1ms', 'at least 1s'],
    ['SDBOT_JOB_MAX_AGE', '10s', 'at least 1m'],
    ['SDBOT_RETRY_DELAY', '0', 'at least 10ms'],
  ])('%s=%s is refused: %s', (name, value, mentions) => {
    const error = configError({ [name]: value });
    expect(error.variables).toEqual([name]);
    expect(error.message).toContain(`${name}: must be ${mentions}`);
  });

  it('accepts SDBOT_SHARED, which points the tests at the reference folder', () => {
    expect(() => loadConfig({ env: { SDBOT_SHARED: '/work/shared' } })).not.toThrow();
  });

  it('lists every variable exactly once with a description', () => {
    const names = listConfigVariables().map((v) => v.env);
    expect(new Set(names).size).toBe(names.length);
    for (const variable of listConfigVariables()) expect(variable.description.length).toBeGreaterThan(10);
  });
});

describe('parseDuration', () => {
  // A bare number ("250") is milliseconds.
  const milliseconds = {
    '1500ms': 1500,
    '30s': 30_000,
    '5m': 300_000,
    '2h': 7_200_000,
    '1d': 86_400_000,
    '250': 250,
    '1.5s': 1500,
  };
  it.each(Object.entries(milliseconds))('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('rejects nonsense', () => {
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('-5s')).toBeUndefined();
  });
});
