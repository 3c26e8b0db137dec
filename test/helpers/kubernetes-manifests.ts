/**
 * The Kubernetes objects deploy/k8s produces, two ways: read straight from the files (resources
 * plus the ConfigMaps and Secrets their generators make; always available), or rendered by
 * `kubectl kustomize` when kubectl is installed. Tests run the same checks on both.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deployDirectory, parseEnvFile, parseManifests, parseYaml, type Manifest } from './deploy-files.js';

export const kubernetesDirectory = join(deployDirectory, 'k8s');

interface Generator {
  name: string;
  literals?: string[];
  envs?: string[];
  options?: { annotations?: Record<string, string> };
}

export interface Kustomization {
  namespace?: string;
  resources?: string[];
  components?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

export function readKustomization(directory: string): Kustomization {
  const path = join(directory, 'kustomization.yaml');
  return parseYaml(readFileSync(path, 'utf8'), path) as Kustomization;
}

const LOCAL_CONFIG = 'config.kubernetes.io/local-config';

function generatedData(directory: string, generator: Generator): Record<string, string> {
  const data: Record<string, string> = {};
  for (const literal of generator.literals ?? []) {
    const separator = literal.indexOf('=');
    data[literal.slice(0, separator)] = literal.slice(separator + 1);
  }
  for (const envFile of generator.envs ?? []) {
    for (const [key, value] of parseEnvFile(readFileSync(resolve(directory, envFile), 'utf8')).active) {
      data[key] = value;
    }
  }
  return data;
}

/**
 * What a kustomization directory declares, without running kustomize: every resource document,
 * and a ConfigMap or Secret per generator (local-config ones, which kustomize never emits, too,
 * marked by their annotation). `envFiles` maps a generator's env file to the file to read instead
 * (secrets.env is not committed; its example is).
 */
export function declaredObjects(directory: string, envFiles: Record<string, string> = {}): Manifest[] {
  const kustomization = readKustomization(directory);
  const objects: Manifest[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(directory, resource);
    objects.push(...parseManifests(readFileSync(path, 'utf8'), path));
  }
  const withEnvFiles = (generator: Generator): Generator => ({
    ...generator,
    envs: (generator.envs ?? []).map((file) => envFiles[file] ?? file),
  });
  for (const [kind, generators] of [
    ['ConfigMap', kustomization.configMapGenerator],
    ['Secret', kustomization.secretGenerator],
  ] as const) {
    for (const generator of generators ?? []) {
      const annotations = generator.options?.annotations;
      objects.push({
        apiVersion: 'v1',
        kind,
        metadata: { name: generator.name, ...(annotations ? { annotations } : {}) },
        ...(kind === 'Secret'
          ? { type: 'Opaque', stringData: generatedData(directory, withEnvFiles(generator)) }
          : {}),
        ...(kind === 'ConfigMap' ? { data: generatedData(directory, generator) } : {}),
      });
    }
  }
  for (const component of kustomization.components ?? []) {
    objects.push(...declaredObjects(join(directory, component), envFiles));
  }
  if (kustomization.namespace !== undefined) {
    for (const object of objects) {
      if (object.kind !== 'Namespace') object.metadata.namespace = kustomization.namespace;
    }
  }
  return objects;
}

export function isLocalConfig(object: Manifest): boolean {
  const annotations = (object.metadata as { annotations?: Record<string, string> }).annotations;
  return annotations?.[LOCAL_CONFIG] === 'true';
}

/**
 * `kubectl kustomize` over a copy of deploy/k8s where secrets.env is its example; `edit` may change
 * the copy first. Returns the rendered objects of `subdirectory`.
 */
export function renderKustomization(
  subdirectory = '.',
  edit: (copy: string) => void = () => undefined,
): Manifest[] {
  const copy = mkdtempSync(join(tmpdir(), 'sdbot-k8s-'));
  try {
    cpSync(kubernetesDirectory, copy, { recursive: true });
    cpSync(join(copy, 'secrets.env.example'), join(copy, 'secrets.env'));
    edit(copy);
    const output = execFileSync('kubectl', ['kustomize', join(copy, subdirectory)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return parseManifests(output, `kubectl kustomize ${subdirectory}`);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
