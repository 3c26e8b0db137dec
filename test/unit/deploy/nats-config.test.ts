/**
 * The NATS server configurations pass `nats-server -t`: deploy/nats/sdbot.conf (compose) and the
 * configuration the Helm chart builds from deploy/k8s/nats-values.yaml. Skipped, saying so, where
 * nats-server is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  deployDirectory,
  natsConfigVariables,
  natsUsers,
  parseNatsConfig,
  readNatsConfig,
  parseYaml,
  type NatsConfigValue,
} from '../../helpers/deploy-files.js';
import { natsServerAvailable, natsServerBinary } from '../../helpers/nats-server.js';

const available = natsServerAvailable();
const skipNote = available ? '' : ' (skipped: nats-server is not installed)';
const workDirectory = mkdtempSync(join(tmpdir(), 'sdbot-nats-config-'));

afterAll(() => {
  rmSync(workDirectory, { recursive: true, force: true });
});

/** The installed server's version, e.g. [2, 9, 10]. */
function serverVersion(): number[] {
  const output = spawnSync(natsServerBinary, ['--version'], { encoding: 'utf8' }).stdout;
  return (/v(\d+)\.(\d+)\.(\d+)/.exec(output) ?? []).slice(1).map(Number);
}

function checkConfig(path: string, env: Record<string, string>) {
  const result = spawnSync(natsServerBinary, ['-t', '-c', path], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function examplePasswords(variables: readonly string[]): Record<string, string> {
  return Object.fromEntries(variables.map((name) => [name, `example-${name.toLowerCase()}`]));
}

/**
 * The chart's rendering of `merge` values into nats-server syntax: JSON-like, except that
 * strings written `<< ... >>` are copied unquoted (variables such as `$NATS_BOT_PASSWORD`).
 */
function toNatsConfig(value: unknown, indent = ''): string {
  if (typeof value === 'string') {
    const raw = /^<<\s*(.*?)\s*>>$/.exec(value);
    return raw ? (raw[1] ?? '') : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    return `[\n${value.map((item) => `${inner}${toNatsConfig(item, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(
      ([key, item]) => `${inner}${JSON.stringify(key)}: ${toNatsConfig(item, inner)}`,
    );
    return `{\n${entries.join('\n')}\n${indent}}`;
  }
  throw new Error(`cannot render ${String(value)} as nats-server configuration`);
}

interface HelmNatsValues {
  config: { jetstream: { merge: Record<string, unknown> }; merge: Record<string, unknown> };
}

const sdbotConfPath = join(deployDirectory, 'nats', 'sdbot.conf');
const helmValuesPath = join(deployDirectory, 'k8s', 'nats-values.yaml');

describe('NATS users and permissions', () => {
  const composeUsers = natsUsers(parseNatsConfig(readNatsConfig(sdbotConfPath)));
  const values = parseYaml(readFileSync(helmValuesPath, 'utf8'), helmValuesPath) as HelmNatsValues;
  const helmUsers = natsUsers(values.config.merge as Record<string, NatsConfigValue>);

  it('has a bot and a worker user, passwords read from the environment', () => {
    expect(Object.keys(composeUsers)).toEqual(expect.arrayContaining(['sdbot-bot', 'sdbot-worker']));
    for (const user of Object.values(composeUsers)) expect(user.passwordVariable).toMatch(/^[A-Z_]+$/);
  });

  it('are the same for compose (sdbot.conf) and Kubernetes (the Helm values)', () => {
    expect(helmUsers).toEqual(composeUsers);
  });
});

describe.skipIf(!available)(`nats-server -t${skipNote}`, () => {
  it('accepts deploy/nats/sdbot.conf with its passwords in the environment, and needs them', () => {
    const path = sdbotConfPath;
    const variables = natsConfigVariables(readNatsConfig(path));
    expect(variables.length).toBeGreaterThan(0);
    const checked = checkConfig(path, examplePasswords(variables));
    expect(checked.output).toContain('is valid');
    expect(checked.status).toBe(0);
    const withoutPasswords = checkConfig(path, {});
    expect(withoutPasswords.status).not.toBe(0);
    expect(withoutPasswords.output).toMatch(/variable reference for '\w+'/);
  });

  it('accepts deploy/nats/compose.conf on nats 2.10+, and keeps its 2.10-only keys out of sdbot.conf', () => {
    const composePath = join(deployDirectory, 'nats', 'compose.conf');
    const composeConfig = parseNatsConfig(readNatsConfig(composePath));
    expect(composeConfig.jetstream).toMatchObject({ store_dir: '/data/jetstream', sync_interval: 'always' });
    // sdbot.conf is what older servers (and these tests) load: it must not carry the key.
    expect(readNatsConfig(sdbotConfPath)).not.toMatch(/^\s*sync_interval/m);
    const [major = 0, minor = 0] = serverVersion();
    if (major === 2 && minor < 10) return;
    const variables = natsConfigVariables(readNatsConfig(composePath));
    const checked = checkConfig(composePath, examplePasswords(variables));
    expect(checked.output).toContain('is valid');
    expect(checked.status).toBe(0);
  });

  it('accepts the configuration the Helm chart builds from nats-values.yaml', () => {
    const values = parseYaml(readFileSync(helmValuesPath, 'utf8'), helmValuesPath) as HelmNatsValues;
    const jetstream: Record<string, unknown> = {
      store_dir: join(workDirectory, 'jetstream'),
      ...values.config.jetstream.merge,
    };
    const [major = 0, minor = 0] = serverVersion();
    // sync_interval arrived in nats-server 2.10 (what the chart runs); Debian's 2.9 rejects it.
    if (major === 2 && minor < 10) delete jetstream.sync_interval;
    const rendered = [
      'port: 4222',
      'http_port: 8222',
      `jetstream: ${toNatsConfig(jetstream)}`,
      ...Object.entries(values.config.merge).map(
        ([key, value]) => `${JSON.stringify(key)}: ${toNatsConfig(value)}`,
      ),
    ].join('\n');
    const path = join(workDirectory, 'helm.conf');
    writeFileSync(path, rendered);
    const variables = natsConfigVariables(rendered);
    expect(variables).toEqual(natsConfigVariables(readNatsConfig(sdbotConfPath)));
    const checked = checkConfig(path, examplePasswords(variables));
    expect(checked.output).toContain('is valid');
    expect(checked.status).toBe(0);
  });
});
