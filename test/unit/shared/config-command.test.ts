/**
 * `sdbot config` shows the configuration an operator runs with, never a credential: secret
 * variables, passwords and tokens inside NATS URLs, and credentials in HF_ENDPOINT are masked.
 */
import { describe, expect, it } from 'vitest';
import { isTransientNatsError, SdbotError } from '@sdbot/shared';
import { runSdbot } from '../../helpers/cli.js';

describe('sdbot config', () => {
  it('redacts every secret, in text and JSON', async () => {
    const env = {
      NATS_URL: 'nats://sdbot-bot:hunter2@nats-1:4222,nats://s3cr3t-token@nats-2:4222',
      NATS_PASSWORD: 'pw-in-variable',
      DISCORD_TOKEN: 'abc.def.ghi',
      HF_TOKEN: 'hf_abcdefghijklmnopqrstuvwxyz',
      HF_ENDPOINT: 'https://mirror:mirror-pass@hub.example.com/?token=query-secret',
      SDBOT_SHARED: '/work/shared',
    };
    for (const args of [['config'], ['config', '--json']]) {
      const run = await runSdbot(args, env);
      expect(run.code).toBe(0);
      for (const secret of [
        'hunter2',
        's3cr3t-token',
        'pw-in-variable',
        'abc.def.ghi',
        'hf_abc',
        'mirror-pass',
        'query-secret',
      ]) {
        expect(run.stdout).not.toContain(secret);
      }
      expect(run.stdout).toContain('nats-1:4222');
      expect(run.stdout).toContain('hub.example.com');
    }
  });
});

describe('isTransientNatsError', () => {
  it('retries timeouts and unavailable servers, never refusals or bad input', () => {
    const timeout = Object.assign(new Error('timeout'), { name: 'TimeoutError' });
    expect(
      isTransientNatsError(
        new SdbotError('NATS_UNAVAILABLE', 'reading', { cause: new SdbotError('TIMEOUT', 'x') }),
      ),
    ).toBe(false);
    expect(isTransientNatsError(new SdbotError('PERMISSION_DENIED', 'no', { cause: timeout }))).toBe(false);
    expect(isTransientNatsError(new SdbotError('NOT_FOUND', 'gone'))).toBe(false);
    expect(isTransientNatsError(new Error('bad JSON'))).toBe(false);
    expect(
      isTransientNatsError(Object.assign(new Error('js not ready'), { name: 'JetStreamNotEnabled' })),
    ).toBe(true);
    expect(
      isTransientNatsError(Object.assign(new Error('503'), { name: 'JetStreamStatusError', code: 503 })),
    ).toBe(true);
    expect(
      isTransientNatsError(Object.assign(new Error('409'), { name: 'JetStreamStatusError', code: 409 })),
    ).toBe(false);
  });
});
