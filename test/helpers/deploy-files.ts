/**
 * Readers for the files in deploy/: Dockerfiles, .dockerignore, env files, YAML manifests. No
 * Docker engine or cluster runs in the tests, so they parse the files and check what matters.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repositoryRoot } from './shared-fixtures.js';

export const deployDirectory = join(repositoryRoot, 'deploy');

export function readRepositoryFile(relativePath: string): string {
  return readFileSync(join(repositoryRoot, relativePath), 'utf8');
}

/** True when `command args` runs and exits 0 here (an optional tool such as kubectl). */
export function toolAvailable(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { encoding: 'utf8' }).status === 0;
}

export interface DockerInstruction {
  /** Upper-case keyword: FROM, RUN, COPY, ENV... */
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  text: string;
  /** The JSON array of the exec form (`CMD ["node", "x"]`), when the instruction uses it. */
  exec: string[] | undefined;
  /** `--name=value` flags (COPY --from, HEALTHCHECK --interval...). */
  flags: Record<string, string>;
  /** Arguments after the flags, split on whitespace (shell form) or the exec array. */
  args: string[];
}

export interface DockerStage {
  /** Base image with global ARG defaults substituted. */
  base: string;
  name: string | undefined;
  instructions: DockerInstruction[];
}

export interface Dockerfile {
  /** ARG defaults declared before the first FROM. */
  globalArgs: Record<string, string>;
  stages: DockerStage[];
}

function execForm(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function parseInstruction(line: string): DockerInstruction {
  const match = /^(\S+)\s*(.*)$/s.exec(line);
  const keyword = (match?.[1] ?? '').toUpperCase();
  let rest = match?.[2] ?? '';
  const flags: Record<string, string> = {};
  for (;;) {
    const flag = /^--([\w-]+)=(\S+)\s*/.exec(rest);
    if (flag === null) break;
    flags[flag[1] ?? ''] = flag[2] ?? '';
    rest = rest.slice(flag[0].length);
  }
  // HEALTHCHECK [flags] CMD ["exec", ...]: the command is what follows CMD.
  const command = keyword === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/, '') : rest;
  const exec = execForm(command);
  return { keyword, text: rest, exec, flags, args: exec ?? command.split(/\s+/).filter(Boolean) };
}

function substituteArgs(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    return args[name] ?? whole;
  });
}

/** Parses a Dockerfile into stages: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Dockerfile {
  const logicalLines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    // Docker drops comment lines before joining continuations, even inside one.
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logicalLines.push(`${pending}${line}`.trim());
    pending = '';
  }
  if (pending.trim() !== '') logicalLines.push(pending.trim());

  const globalArgs: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of logicalLines.filter((l) => l !== '')) {
    const instruction = parseInstruction(line);
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args;
      stages.push({
        base: substituteArgs(image, globalArgs),
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') {
        const [name = '', value = ''] = instruction.text.split('=', 2);
        globalArgs[name.trim()] = value.trim();
      }
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** `ENV A=1 B=2` pairs of a stage, in order (the later one wins, as in Docker). */
export function stageEnvironment(stage: DockerStage): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const pair of instruction.args) {
      const [name = '', value = ''] = pair.split('=', 2);
      environment[name] = value.replace(/^"(.*)"$/, '$1');
    }
  }
  return environment;
}

/**
 * Whether a path of the build context reaches the builder under these .dockerignore rules: the
 * last matching rule wins and `!` re-includes. Supports the pattern forms sdbot's file uses:
 * `*`, `name`, `dir/file` and `**\/name`.
 */
export function dockerignoreAllows(rules: readonly string[], path: string): boolean {
  const segments = path.split('/');
  let allowed = true;
  for (const rule of rules) {
    const include = rule.startsWith('!');
    const pattern = include ? rule.slice(1) : rule;
    let matches: boolean;
    if (pattern === '*') matches = true;
    else if (pattern.startsWith('**/')) {
      const tail = pattern.slice(3);
      matches = segments.some((segment) =>
        tail.startsWith('*.') ? segment.endsWith(tail.slice(1)) : segment === tail,
      );
    } else matches = path === pattern || path.startsWith(`${pattern}/`);
    if (matches) allowed = include;
  }
  return allowed;
}

export function dockerignoreRules(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

export interface EnvFile {
  /** `NAME=value` lines. */
  active: Map<string, string>;
  /** `# NAME=...` lines: documented, but set elsewhere or unused. */
  commented: Set<string>;
}

export function parseEnvFile(text: string): EnvFile {
  const active = new Map<string, string>();
  const commented = new Set<string>();
  for (const line of text.split('\n')) {
    const assignment = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (assignment) {
      active.set(assignment[1] ?? '', assignment[2] ?? '');
      continue;
    }
    const documented = /^#\s*([A-Z][A-Z0-9_]*)=/.exec(line);
    if (documented) commented.add(documented[1] ?? '');
  }
  return { active, commented };
}

/** A Kubernetes object as read from YAML. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function isManifest(value: unknown): value is Manifest {
  if (typeof value !== 'object' || value === null) return false;
  const object = value as Record<string, unknown>;
  const metadata = object.metadata as Record<string, unknown> | undefined;
  return (
    typeof object.apiVersion === 'string' &&
    typeof object.kind === 'string' &&
    typeof metadata?.name === 'string'
  );
}

/** Every document of a YAML text; throws naming the source on a syntax error or a non-object. */
export function parseManifests(text: string, source: string): Manifest[] {
  return parseAllDocuments(text).map((document, index) => {
    if (document.errors.length > 0) {
      throw new Error(`${source} document ${index + 1}: ${document.errors.map((e) => e.message).join('; ')}`);
    }
    const value: unknown = document.toJS();
    if (!isManifest(value)) {
      throw new Error(`${source} document ${index + 1} has no apiVersion, kind and metadata.name`);
    }
    return value;
  });
}

export function parseYaml(text: string, source: string): unknown {
  const [document, ...others] = parseAllDocuments(text);
  if (document === undefined || others.length > 0) throw new Error(`${source}: expected one YAML document`);
  if (document.errors.length > 0) {
    throw new Error(`${source}: ${document.errors.map((e) => e.message).join('; ')}`);
  }
  return document.toJS();
}

/** Environment variables a nats-server configuration reads (`$NAME` outside strings and comments). */
export function natsConfigVariables(text: string): string[] {
  const code = text.replace(/"(?:[^"\\\n]|\\.)*"|'[^'\n]*'/g, '""').replace(/(#|\/\/).*$/gm, '');
  return [...new Set([...code.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] ?? ''))];
}
