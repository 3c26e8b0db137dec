import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/src/logger.js';
import { warnUncheckedModels } from '../../../worker/src/service/safety-warning.js';

/** Runs `warnUncheckedModels` with a logger writing into memory; returns the parsed lines. */
function warningsFor(models: { id: string; safetyChecker: boolean }[], simulated = false) {
  const destination = new PassThrough();
  let text = '';
  destination.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const logger = createLogger({ name: 'worker', destination });
  warnUncheckedModels(logger, {
    simulated,
    models: models.map((model) => ({ ...model, name: model.id })),
  });
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { level: string; msg: string; reason: string; models: string[] });
}

describe('worker start with the safety checker off', () => {
  it('logs a WARNING naming every model served unchecked', () => {
    const lines = warningsFor([
      { id: 'sd15', safetyChecker: false },
      { id: 'dreamshaper', safetyChecker: true },
      { id: 'anything-v5', safetyChecker: false },
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe('warn');
    expect(lines[0]?.msg).toBe('safety:disabled');
    expect(lines[0]?.reason).toContain('WARNING: the safety checker is OFF for sd15, anything-v5');
    expect(lines[0]?.models).toEqual(['sd15', 'anything-v5']);
  });

  it('stays quiet when every model is checked, and for simulated models', () => {
    expect(warningsFor([{ id: 'sd15', safetyChecker: true }])).toEqual([]);
    expect(warningsFor([{ id: 'sim', safetyChecker: false }], true)).toEqual([]);
  });
});
