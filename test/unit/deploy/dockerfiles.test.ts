/**
 * The images in deploy/docker, checked statically (no Docker engine runs here): multi-stage
 * builds of production dependencies, a non-root user, a health check against the process's own
 * endpoint, the sdbot entry point, models on a volume, and onnxruntime's CUDA download skipped
 * by default, opted into by the CUDA image.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { listConfigVariables } from '@sdbot/shared';
import { describe, expect, it } from 'vitest';
import {
  dockerignoreAllows,
  dockerignoreRules,
  parseDockerfile,
  readRepositoryFile,
  stageEnvironment,
  type DockerInstruction,
  type DockerStage,
} from '../../helpers/deploy-files.js';
import { repositoryRoot } from '../../helpers/shared-fixtures.js';

interface ImageSpec {
  file: string;
  /** Workspaces whose production dependencies the image installs. */
  workspaces: string[];
  command: string;
  cuda: boolean;
  models: boolean;
}

const IMAGES: ImageSpec[] = [
  {
    file: 'deploy/docker/bot.Dockerfile',
    workspaces: ['@sdbot/shared', '@sdbot/bot'],
    command: 'bot',
    cuda: false,
    models: false,
  },
  {
    file: 'deploy/docker/worker.Dockerfile',
    workspaces: ['@sdbot/shared', '@sdbot/worker'],
    command: 'worker',
    cuda: false,
    models: true,
  },
  {
    file: 'deploy/docker/worker-cuda.Dockerfile',
    workspaces: ['@sdbot/shared', '@sdbot/worker'],
    command: 'worker',
    cuda: true,
    models: true,
  },
];

const rootPackage = JSON.parse(readRepositoryFile('package.json')) as {
  bin: Record<string, string>;
  workspaces: string[];
};
const workspacePackageNames = rootPackage.workspaces.map(
  (workspace) => (JSON.parse(readRepositoryFile(`${workspace}/package.json`)) as { name: string }).name,
);
const configVariableNames = new Set(listConfigVariables().map((v) => v.env));

function only(stage: DockerStage, keyword: string): DockerInstruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

function npmCi(stage: DockerStage): DockerInstruction | undefined {
  return only(stage, 'RUN').find((instruction) => /\bnpm ci\b/.test(instruction.text));
}

describe.each(IMAGES)('$file', (image) => {
  const dockerfile = parseDockerfile(readRepositoryFile(image.file));
  const final = dockerfile.stages.at(-1);
  if (final === undefined) throw new Error(`${image.file} has no FROM`);
  const build = dockerfile.stages.find((stage) => npmCi(stage) !== undefined);
  const finalEnvironment = stageEnvironment(final);

  it('installs dependencies in a build stage and ships only its result', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    expect(build, 'a stage runs npm ci').toBeDefined();
    expect(build).not.toBe(final);
    expect(npmCi(final), 'the final stage runs no npm ci').toBeUndefined();
    const copiesFromBuild = only(final, 'COPY').some((copy) => copy.flags.from === build?.name);
    expect(copiesFromBuild, `the final stage copies from "${build?.name ?? ''}"`).toBe(true);
  });

  it(`runs npm ci --omit=dev for exactly ${image.workspaces.join(' and ')}`, () => {
    const command = npmCi(build ?? final)?.text ?? '';
    expect(command).toMatch(/npm ci\b[^&]*--omit=dev/);
    const installed = [...command.matchAll(/--workspace=(\S+)/g)].map((match) => match[1]);
    expect(installed.sort()).toEqual([...image.workspaces].sort());
    for (const name of installed) expect(workspacePackageNames).toContain(name);
  });

  it('copies only files the .dockerignore sends in the build context', () => {
    const rules = dockerignoreRules(readRepositoryFile('.dockerignore'));
    const sources = dockerfile.stages
      .flatMap((stage) => only(stage, 'COPY'))
      .filter((copy) => copy.flags.from === undefined)
      .flatMap((copy) => copy.args.slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const path = source.replace(/\/$/, '');
      expect(existsSync(join(repositoryRoot, path)), `${path} exists`).toBe(true);
      expect(dockerignoreAllows(rules, path), `${path} is in the build context`).toBe(true);
    }
  });

  it('runs as a non-root numeric user', () => {
    const user = only(final, 'USER').at(-1)?.args[0] ?? '';
    const [uid = '', gid] = user.split(':');
    expect(uid, 'USER is numeric, so Kubernetes can verify runAsNonRoot').toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
    const lastUser = final.instructions.findLastIndex((i) => i.keyword === 'USER');
    const lastRun = final.instructions.findLastIndex((i) => i.keyword === 'RUN');
    expect(lastUser, 'nothing runs as root after USER').toBeGreaterThan(lastRun);
  });

  it('checks its health on the metrics port it exposes', () => {
    const healthcheck = only(final, 'HEALTHCHECK').at(-1);
    expect(healthcheck?.exec).toEqual(['node', 'deploy/docker/healthcheck.js', '/healthz']);
    const port = finalEnvironment.SDBOT_METRICS_PORT;
    expect(port).toMatch(/^\d+$/);
    expect(only(final, 'EXPOSE').flatMap((e) => e.args)).toContain(port);
    const copied = dockerfile.stages
      .flatMap((stage) => only(stage, 'COPY'))
      .some((copy) => copy.args.includes('deploy/docker/healthcheck.js'));
    expect(copied, 'the health check script is in the image').toBe(true);
  });

  it(`starts the sdbot entry point with "${image.command}"`, () => {
    const sdbotBin = rootPackage.bin.sdbot ?? '';
    // The file `npx sdbot` runs, started directly so SIGTERM reaches it without npm in between.
    expect(only(final, 'ENTRYPOINT').at(-1)?.exec).toEqual(['node', sdbotBin]);
    expect(only(final, 'CMD').at(-1)?.exec).toEqual([image.command]);
    expect(final.instructions.find((i) => i.keyword === 'WORKDIR')?.args).toEqual(['/app']);
  });

  it('sets only known sdbot configuration variables', () => {
    const sdbotVariables = Object.keys(finalEnvironment).filter((name) => name.startsWith('SDBOT_'));
    expect(sdbotVariables.length).toBeGreaterThan(0);
    for (const name of sdbotVariables) expect(configVariableNames, name).toContain(name);
  });

  if (image.models) {
    it('keeps models out of the image, on a volume at /models', () => {
      expect(only(final, 'VOLUME').flatMap((v) => v.args)).toContain('/models');
    });
  }

  if (image.cuda) {
    it('opts in to the CUDA provider download, on a CUDA 12 + cuDNN runtime', () => {
      const stage = build ?? final;
      const install = stage.instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.text));
      const override = stage.instructions.findIndex(
        (i) =>
          (i.keyword === 'ENV' && i.args.includes('ONNXRUNTIME_NODE_INSTALL=cuda12')) ||
          (i.keyword === 'RUN' && /ONNXRUNTIME_NODE_INSTALL=cuda12\s+npm ci/.test(i.text)),
      );
      expect(override, 'ONNXRUNTIME_NODE_INSTALL=cuda12 is set').toBeGreaterThanOrEqual(0);
      expect(override).toBeLessThanOrEqual(install);
      expect(final.base).toMatch(/^nvidia\/cuda:12\.\d+(\.\d+)?-cudnn-runtime-ubuntu2[24]\.04$/);
      expect(finalEnvironment.SDBOT_EXECUTION_PROVIDER).toBe('cuda');
      const nodeCopied = only(final, 'COPY').some((copy) => copy.args[0] === '/usr/local/bin/node');
      expect(nodeCopied, 'Node is copied into the CUDA image').toBe(true);
    });
  } else {
    it('skips the onnxruntime CUDA download (npm 10 in the image ignores allowScripts)', () => {
      const text = readRepositoryFile(image.file);
      if (/npm ci[^\n]*@sdbot\/worker/.test(text)) {
        expect(text).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip\s+npm ci/);
      }
      expect(text).not.toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda/);
      expect(final.base).toMatch(/^node:20(\.\d+)*-/);
    });
  }
});
