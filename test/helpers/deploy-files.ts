/**
 * Readers for the files in deploy/: Dockerfiles, .dockerignore, env files, YAML manifests. No
 * Docker engine or cluster runs in the tests, so they parse the files and check what matters.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/** A nats-server configuration value: `$NAME` references stay unresolved. */
export type NatsConfigValue =
  string | { variable: string } | NatsConfigValue[] | { [key: string]: NatsConfigValue };

/**
 * Reads the nats-server configuration syntax (maps with or without `:`/`=`, arrays, quoted and
 * bare strings, `$VARIABLES`, `#` and `//` comments) into plain values, enough to compare the
 * users and permissions of two configurations. Numbers and booleans stay strings.
 */
export function parseNatsConfig(text: string): Record<string, NatsConfigValue> {
  let position = 0;
  const fail = (message: string): never => {
    const line = text.slice(0, position).split('\n').length;
    throw new Error(`nats config line ${line}: ${message}`);
  };
  const skip = (newlines: boolean) => {
    for (;;) {
      const rest = text.slice(position);
      const blank = (newlines ? /^[\s,;]+/ : /^[ \t]+/).exec(rest);
      const comment = /^(#|\/\/)[^\n]*/.exec(rest);
      if (blank) position += blank[0].length;
      else if (comment) position += comment[0].length;
      else return;
    }
  };
  const quoted = (): string => {
    const match = /^"((?:[^"\\]|\\.)*)"|^'([^']*)'/.exec(text.slice(position));
    if (match === null) return fail('unterminated string');
    position += match[0].length;
    return match[1] !== undefined ? (JSON.parse(`"${match[1]}"`) as string) : (match[2] ?? '');
  };
  const bare = (stop: RegExp): string => {
    const match = stop.exec(text.slice(position));
    if (match === null || match[0] === '') return fail('expected a value');
    position += match[0].length;
    return match[0].trim();
  };
  const value = (): NatsConfigValue => {
    skip(false);
    const next = text[position];
    if (next === '{') {
      position += 1;
      const map = entries('}');
      position += 1;
      return map;
    }
    if (next === '[') {
      position += 1;
      const items: NatsConfigValue[] = [];
      for (;;) {
        skip(true);
        if (text[position] === ']') break;
        if (position >= text.length) fail('unterminated array');
        items.push(value());
      }
      position += 1;
      return items;
    }
    if (next === '"' || next === "'") return quoted();
    if (next === '$') return { variable: bare(/^\$[A-Za-z_][A-Za-z0-9_]*/).slice(1) };
    return bare(/^[^\n,;\]}#]+?(?=\s*(?:$|[\n,;\]}#]|\/\/))/);
  };
  const entries = (end: string | undefined): Record<string, NatsConfigValue> => {
    const map: Record<string, NatsConfigValue> = {};
    for (;;) {
      skip(true);
      if (position >= text.length) {
        if (end !== undefined) fail(`missing "${end}"`);
        return map;
      }
      if (text[position] === end) return map;
      const key = text[position] === '"' || text[position] === "'" ? quoted() : bare(/^[^\s:={]+/);
      skip(false);
      if (text[position] === ':' || text[position] === '=') position += 1;
      map[key] = value();
    }
  };
  return entries(undefined);
}

/** A nats-server configuration file's text with its `include` directives expanded in place. */
export function readNatsConfig(path: string): string {
  return readFileSync(path, 'utf8').replace(
    /^\s*include\s+["']?([^"'\s;]+)["']?\s*;?\s*$/gm,
    (_line, file: string) => readNatsConfig(join(dirname(path), file)),
  );
}

function variableReferences(value: NatsConfigValue): string[] {
  if (typeof value === 'string') return [];
  if (Array.isArray(value)) return value.flatMap(variableReferences);
  if (typeof value.variable === 'string') return [value.variable];
  return Object.values(value).flatMap(variableReferences);
}

/**
 * The environment variables a configuration reads: `$NAME` references that no top-level
 * assignment in the file defines (nats-server looks those up in its environment).
 */
export function natsConfigVariables(text: string): string[] {
  const config = parseNatsConfig(text);
  const references = variableReferences(config).filter((name) => !(name in config));
  return [...new Set(references)].sort();
}

/** Replaces `$NAME` references to top-level assignments with their values. */
export function resolveNatsVariables(
  config: Record<string, NatsConfigValue>,
): Record<string, NatsConfigValue> {
  const resolve = (value: NatsConfigValue): NatsConfigValue => {
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value.variable === 'string') {
      const defined = config[value.variable];
      return defined === undefined ? value : resolve(defined);
    }
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item)]));
  };
  return Object.fromEntries(Object.entries(config).map(([key, value]) => [key, resolve(value)]));
}

export interface NatsPermissionList {
  allow: string[];
  deny: string[];
}

/** A NATS user as configured: its account, where its password comes from, its permissions. */
export interface NatsUser {
  account: string;
  passwordVariable: string | undefined;
  publish: NatsPermissionList;
  subscribe: NatsPermissionList;
}

function subjects(value: NatsConfigValue | undefined): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(subjects);
  throw new Error(`expected subjects, got ${JSON.stringify(value)}`);
}

/** `publish: "a"`, `publish: ["a"]` and `publish: { allow: [...], deny: [...] }` alike. */
function direction(value: NatsConfigValue | undefined): NatsPermissionList {
  const isMap = typeof value === 'object' && !Array.isArray(value) && !('variable' in value);
  const map = isMap ? (value as Record<string, NatsConfigValue>) : { allow: value ?? [] };
  return { allow: subjects(map.allow).sort(), deny: subjects(map.deny).sort() };
}

function passwordVariable(value: NatsConfigValue | undefined): string | undefined {
  if (typeof value === 'object' && !Array.isArray(value) && typeof value.variable === 'string') {
    return value.variable;
  }
  // The Helm chart writes `<< $NAME >>` values unquoted, as variable references.
  return typeof value === 'string' ? /^<<\s*\$(\w+)\s*>>$/.exec(value)?.[1] : undefined;
}

/** Users of `accounts { NAME { users: [...] } }` and of `authorization { users: [...] }` ($G). */
export function natsUsers(unresolved: Record<string, NatsConfigValue>): Record<string, NatsUser> {
  const config = resolveNatsVariables(unresolved);
  const blocks: [string, NatsConfigValue | undefined][] = [];
  const accounts = config.accounts;
  if (typeof accounts === 'object' && !Array.isArray(accounts)) {
    for (const [name, account] of Object.entries(accounts)) {
      blocks.push([name, (account as Record<string, NatsConfigValue>).users]);
    }
  }
  const authorization = config.authorization as Record<string, NatsConfigValue> | undefined;
  blocks.push(['$G', authorization?.users]);
  const users: Record<string, NatsUser> = {};
  for (const [account, list] of blocks) {
    for (const entry of Array.isArray(list) ? list : []) {
      const user = entry as Record<string, NatsConfigValue>;
      const permissions = (user.permissions ?? {}) as Record<string, NatsConfigValue>;
      if (typeof user.user !== 'string') throw new Error(`a user without a name in account ${account}`);
      users[user.user] = {
        account,
        passwordVariable: passwordVariable(user.password),
        publish: direction(permissions.publish),
        subscribe: direction(permissions.subscribe),
      };
    }
  }
  return users;
}
