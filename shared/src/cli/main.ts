/**
 * The `sdbot` entry point. It only dispatches: each workspace package declares its command
 * manifest in its package.json (`"sdbot": { "commands": "./src/cli/commands.ts" }`), and this file
 * finds them through the root package.json's workspaces. `shared` imports nothing from the others.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SdbotError, ValidationError, toSdbotError } from '../errors.js';
import { redactText } from '../logger.js';
import {
  formatCommandHelp,
  parseCommandArgs,
  UsageError,
  type CommandIO,
  type CommandManifestEntry,
} from './command.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

interface PackageJson {
  name?: string;
  version?: string;
  workspaces?: string[];
  sdbot?: { commands?: string };
}

async function readPackageJson(path: string): Promise<PackageJson> {
  return JSON.parse(await readFile(path, 'utf8')) as PackageJson;
}

interface DiscoveredCommand extends CommandManifestEntry {
  packageName: string;
}

/** Loads every workspace's command manifest; a duplicate name is a packaging bug and fails loudly. */
export async function discoverCommands(root = repositoryRoot): Promise<DiscoveredCommand[]> {
  const rootPackage = await readPackageJson(join(root, 'package.json'));
  const found: DiscoveredCommand[] = [];
  for (const workspace of rootPackage.workspaces ?? []) {
    const packageDir = join(root, workspace);
    const manifest = await readPackageJson(join(packageDir, 'package.json'));
    const commandsPath = manifest.sdbot?.commands;
    if (commandsPath === undefined) continue;
    const module = (await import(pathToFileURL(join(packageDir, commandsPath)).href)) as {
      commands?: CommandManifestEntry[];
    };
    for (const entry of module.commands ?? []) {
      const clash = found.find((command) => command.name === entry.name);
      if (clash) {
        throw new SdbotError(
          'INTERNAL',
          `command "${entry.name}" is declared by both ${clash.packageName} and ${manifest.name ?? workspace}`,
        );
      }
      found.push({ ...entry, packageName: manifest.name ?? workspace });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

function formatOverview(commands: DiscoveredCommand[], version: string): string {
  const width = Math.max(...commands.map((command) => command.name.length), 8);
  return [
    `sdbot ${version}: Stable Diffusion on Discord, served by a pool of GPU workers`,
    '',
    'Usage: sdbot <command> [options]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Run `sdbot <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

function reportError(io: CommandIO, error: unknown): number {
  const failure = toSdbotError(error);
  const message = redactText(failure.message);
  if (failure instanceof ValidationError && failure.issues.length > 1) {
    io.stderr.write(
      `sdbot: error [${failure.code}]:\n${failure.issues.map((i) => `  ${redactText(`${i.field}: ${i.message}`)}`).join('\n')}\n`,
    );
  } else {
    io.stderr.write(`sdbot: error [${failure.code}]: ${message}\n`);
  }
  if (failure.code === 'INTERNAL' && error instanceof Error && error.stack !== undefined) {
    io.stderr.write(`${redactText(error.stack)}\n`);
  }
  return failure instanceof UsageError || failure instanceof ValidationError ? EXIT.usage : EXIT.failure;
}

/** Runs `sdbot <argv>` and returns the exit code; never throws. */
export async function runCli(argv: string[], io: CommandIO): Promise<number> {
  try {
    const rootPackage = await readPackageJson(join(repositoryRoot, 'package.json'));
    const version = rootPackage.version ?? '0.0.0';
    const [name, ...rest] = argv;
    if (name === '--version' || name === '-v') {
      io.stdout.write(`${version}\n`);
      return EXIT.ok;
    }
    const commands = await discoverCommands();
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? rest[0] : undefined;
      const command = topic === undefined ? undefined : commands.find((c) => c.name === topic);
      io.stdout.write(command ? formatCommandHelp(await command.load()) : formatOverview(commands, version));
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    const entry = commands.find((command) => command.name === name);
    if (entry === undefined) {
      io.stderr.write(
        `sdbot: unknown command "${name}". Commands: ${commands.map((c) => c.name).join(', ')}\n`,
      );
      return EXIT.usage;
    }
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(formatCommandHelp(command));
      return EXIT.ok;
    }
    let parsed;
    try {
      parsed = parseCommandArgs(command, rest);
    } catch (error) {
      const code = reportError(io, error);
      io.stderr.write(`Run \`sdbot ${command.name} --help\` for its options.\n`);
      return code;
    }
    return (await command.run({ ...io, ...parsed })) ?? EXIT.ok;
  } catch (error) {
    return reportError(io, error);
  }
}
