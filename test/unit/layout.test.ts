import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { listConfigVariables } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import { repositoryRoot } from '../helpers/shared-fixtures.js';

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry);
    if (entry === 'node_modules') return [];
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|js|mjs)$/.test(entry) ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map(
    (match) => match[1] ?? '',
  );
}

describe('repository layout', () => {
  it('the top level holds exactly the eight project entries plus dotfiles and the lock file', () => {
    const entries = readdirSync(repositoryRoot).filter(
      (entry) => !entry.startsWith('.') && entry !== 'node_modules' && entry !== 'package-lock.json',
    );
    expect(entries.sort()).toEqual([
      'README.md',
      'bot',
      'deploy',
      'package.json',
      'shared',
      'test',
      'tsconfig.json',
      'worker',
    ]);
  });

  it('shared imports nothing from bot or worker, nor Discord or ONNX code', () => {
    for (const file of sourceFiles(join(repositoryRoot, 'shared'))) {
      for (const specifier of importsOf(file)) {
        expect(specifier, relative(repositoryRoot, file)).not.toMatch(
          /@sdbot\/(bot|worker)|\/(bot|worker)\/|discord|onnxruntime/,
        );
      }
    }
  });

  it('bot and worker never import each other', () => {
    for (const [from, forbidden] of [
      ['bot', 'worker'],
      ['worker', 'bot'],
    ] as const) {
      for (const file of sourceFiles(join(repositoryRoot, from))) {
        for (const specifier of importsOf(file)) {
          expect(specifier, relative(repositoryRoot, file)).not.toMatch(
            new RegExp(`@sdbot/${forbidden}|/${forbidden}/`),
          );
        }
      }
    }
  });

  it('onnxruntime-node is imported by exactly one backend module', () => {
    const importers = ['shared', 'bot', 'worker']
      .flatMap((pkg) => sourceFiles(join(repositoryRoot, pkg)))
      .filter((file) => importsOf(file).some((specifier) => specifier.startsWith('onnxruntime')));
    expect(
      importers
        .map((file) => relative(repositoryRoot, file))
        .filter((f) => f !== 'worker/src/diffusion/backend/onnx.ts'),
    ).toEqual([]);
  });

  it('the README documents every configuration variable', () => {
    const readme = readFileSync(join(repositoryRoot, 'README.md'), 'utf8');
    const missing = listConfigVariables()
      .map((v) => v.env)
      .filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('skips the onnxruntime CUDA download by default, with nothing npm warns about on every command', () => {
    // A custom key in .npmrc makes npm 11 print `Unknown project config` before every `npx sdbot`.
    expect(readFileSync(join(repositoryRoot, '.npmrc'), 'utf8')).not.toMatch(/onnxruntime/);
    const manifest = JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
    };
    expect(manifest.allowScripts?.['onnxruntime-node']).toBe(false);
    // npm 11 warns about every install script the policy does not cover.
    const lock = JSON.parse(readFileSync(join(repositoryRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript === true)
      .map(([path]) => path.split('node_modules/').at(-1) ?? path);
    expect(withScripts.filter((name) => manifest.allowScripts?.[name] === undefined)).toEqual([]);
  });
});
