import { PassThrough, Writable } from 'node:stream';
import { LOG_EVENTS, createLogger, redactText, resolveLogFormat } from '@sdbot/shared';
import type { Logger as PinoLogger } from 'pino';
import { describe, expect, it } from 'vitest';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, destination };
}

const botToken = 'MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB';

describe('logger', () => {
  it('writes structured JSON with bindings from child loggers', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'worker', destination, bindings: { workerId: 'gpu-1' } });
    logger.child({ jobId: 'job-1' }).info({ step: 3 }, LOG_EVENTS.job.started);
    expect(lines[0]).toMatchObject({
      name: 'worker',
      level: 'info',
      workerId: 'gpu-1',
      jobId: 'job-1',
      step: 3,
      msg: 'job:started',
    });
    expect(typeof lines[0]?.time).toBe('string');
  });

  it('redacts child-logger bindings, the base bindings and nats.js option names', () => {
    const { lines, destination } = capture();
    const logger = createLogger({
      name: 'worker',
      destination,
      bindings: { natsUrl: 'nats://worker:s3cret@nats:4222' },
    });
    logger
      .child({ nats: { user: 'sdbot-worker', pass: 'hunter2', servers: ['nats://tok3n@nats:4222'] } })
      .info({ options: { pass: 'hunter3' } }, 'nats:connecting');
    const line = JSON.stringify(lines[0]);
    for (const secret of ['s3cret', 'hunter2', 'hunter3', 'tok3n']) expect(line).not.toContain(secret);
    expect(lines[0]).toMatchObject({ nats: { user: 'sdbot-worker', pass: '[REDACTED]' } });
    // Words that merely contain "pass" are not secrets.
    logger.info({ passes: 3, bypass: 'yes' }, 'job:completed');
    expect(lines[1]).toMatchObject({ passes: 3, bypass: 'yes' });
  });

  it('redacts secret-looking keys at any depth', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'bot', destination });
    logger.info(
      {
        token: 'abc',
        config: { discord: { token: botToken }, nats: { password: 'hunter2', user: 'bot' } },
        headers: { Authorization: 'Bot xyz' },
        list: [{ apiKey: 'k' }],
        truncatedTokens: 3,
      },
      LOG_EVENTS.worker.started,
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ['hunter2', botToken, 'Bot xyz', '"k"']) expect(text).not.toContain(secret);
    expect(text).toContain('"user":"bot"');
    expect(lines[0]?.truncatedTokens).toBe(3);
  });

  it('masks tokens inside messages, URLs and errors', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'bot', destination });
    const error = new Error(
      `401 on PATCH /api/v10/webhooks/123456789012345678/aW50ZXJhY3Rpb246c2VjcmV0/messages/@original`,
    );
    // Messages are typed as event names; the masking still covers text that reaches pino another way.
    const untyped = logger as unknown as PinoLogger;
    untyped.error({ err: error, url: 'nats://bot:s3cret@nats:4222' }, `login with ${botToken} failed`);
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('aW50ZXJhY3Rpb246c2VjcmV0');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain(botToken);
    expect(text).toContain('/webhooks/123456789012345678/[REDACTED]/messages');
  });

  it('redactText masks bearer tokens and Hugging Face tokens', () => {
    expect(redactText('Authorization: Bearer abcdefghijklmnop')).toBe('Authorization: Bearer [REDACTED]');
    expect(redactText('token hf_abcdefghijklmnopqrstuvwxyz')).toBe('token [REDACTED]');
  });
});

describe('log formats', () => {
  function capture(isTTY: boolean) {
    const stream = Object.assign(new PassThrough(), { isTTY });
    let text = '';
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    return { stream, text: () => text };
  }

  it('picks one human line per event on a terminal and JSON lines elsewhere, unless forced', () => {
    expect(resolveLogFormat('auto', { isTTY: true })).toBe('pretty');
    expect(resolveLogFormat('auto', { isTTY: false })).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true })).toBe('json');
    expect(resolveLogFormat('pretty', {})).toBe('pretty');
  });

  it('prints pretty lines with the event, its fields and secrets still masked', () => {
    const out = capture(false);
    const logger = createLogger({ name: 'worker', destination: out.stream, format: 'pretty' });
    logger.info({ jobId: 'job-1', password: 'hunter2', url: 'nats://me:secret@host:4222' }, 'job:completed');
    const line = out.text();
    expect(line.trim().split('\n')).toHaveLength(1);
    expect(line).toMatch(/INFO.*\(worker\): job:completed/);
    expect(line).toContain('"jobId":"job-1"');
    expect(line).not.toContain('hunter2');
    expect(line).not.toContain('secret@');
    expect(line).not.toContain('\x1b[');
  });
});
