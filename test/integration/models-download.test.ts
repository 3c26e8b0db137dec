import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SdbotError } from '@sdbot/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { DOWNLOAD_MARKER } from '../../worker/src/models/download-marker.js';
import { downloadModel, type DownloadModelOptions } from '../../worker/src/models/download.js';
import type { DownloadEvent } from '../../worker/src/models/model-file.js';
import { runSdbot } from '../helpers/cli.js';
import {
  commitFromDirectory,
  fakeCommit,
  sha256Hex,
  startFakeHub,
  type FakeCommit,
  type FakeHub,
  type FakeHubOptions,
} from '../helpers/fake-hub.js';
import { useScratchDirectories } from '../helpers/scratch-directories.js';
import { sharedFixture } from '../helpers/shared-fixtures.js';

/** A tiny diffusers ONNX export: random "weights", real file names. */
function onnxExport(prefix = ''): Record<string, Buffer | string> {
  const files: Record<string, Buffer | string> = {
    'model_index.json': JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }),
    'text_encoder/model.onnx': randomBytes(40_000),
    'unet/model.onnx': randomBytes(30_000),
    'unet/weights.pb': randomBytes(300_000),
    'vae_encoder/model.onnx': randomBytes(20_000),
    'vae_decoder/model.onnx': randomBytes(20_000),
    'safety_checker/model.onnx': randomBytes(25_000),
    'tokenizer/vocab.json': JSON.stringify({ '<|startoftext|>': 49406, '<|endoftext|>': 49407 }),
    'tokenizer/merges.txt': '#version: 0.2\nt h\n',
    'tokenizer/special_tokens_map.json': '{}',
    'tokenizer/tokenizer_config.json': '{}',
    'scheduler/scheduler_config.json': JSON.stringify({ _class_name: 'PNDMScheduler' }),
    'feature_extractor/preprocessor_config.json': JSON.stringify({ crop_size: 224 }),
  };
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [prefix + path, content]));
}

/** What a real repository carries besides the export; none of it may be downloaded. */
const UNRELATED_FILES: Record<string, Buffer | string> = {
  'README.md': '# model card',
  '.gitattributes': '*.onnx filter=lfs',
  'sample.png': randomBytes(5000),
  'unet/diffusion_pytorch_model.safetensors': randomBytes(50_000),
  'controlnet/model.onnx': randomBytes(10_000),
};

const EXPORT_PATHS = Object.keys(onnxExport()).sort();

let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});
const tempDir = useScratchDirectories('sdbot-models-');

async function serve(commit: FakeCommit, options: Partial<FakeHubOptions> = {}): Promise<FakeHub> {
  hub = await startFakeHub({ repos: [{ id: 'acme/sd-onnx', refs: { main: commit } }], ...options });
  return hub;
}

function exportCommit(): FakeCommit {
  return fakeCommit({ ...onnxExport(), ...UNRELATED_FILES });
}

/** Every file under `dir`, relative, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

async function expectSameFiles(dir: string, commit: FakeCommit, prefix = ''): Promise<void> {
  for (const path of EXPORT_PATHS) {
    const served = commit.files.find((file) => file.path === prefix + path);
    expect(served, path).toBeDefined();
    expect((await readFile(join(dir, path))).equals(served?.content ?? Buffer.alloc(0)), path).toBe(true);
  }
}

function options(
  fake: FakeHub,
  dir: string,
  extra: Partial<DownloadModelOptions> = {},
): DownloadModelOptions {
  return {
    repo: 'acme/sd-onnx',
    dir,
    endpoint: fake.url,
    retry: { attempts: 4, baseDelayMs: 5 },
    ...extra,
  };
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('sdbot models download', () => {
  it('fetches exactly the ONNX export, verified, with the completion marker written last', async () => {
    const commit = exportCommit();
    const fake = await serve(commit, { treePageSize: 4 });
    const dir = join(await tempDir(), 'model');

    const run = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir, '--concurrency', '2'], {
      HF_ENDPOINT: fake.url,
    });

    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    expect(await listFiles(dir)).toEqual([DOWNLOAD_MARKER, ...EXPORT_PATHS].sort());
    await expectSameFiles(dir, commit);
    const marker = JSON.parse(await readFile(join(dir, DOWNLOAD_MARKER), 'utf8')) as {
      repo: string;
      commit: string;
      files: { path: string; size: number; sha256?: string; gitSha1?: string }[];
    };
    expect(marker.repo).toBe('acme/sd-onnx');
    expect(marker.commit).toBe(commit.sha);
    const weights = commit.files.find((file) => file.path === 'unet/weights.pb');
    expect(marker.files).toContainEqual({ path: 'unet/weights.pb', size: 300_000, sha256: weights?.sha256 });
    const vocab = commit.files.find((file) => file.path === 'tokenizer/vocab.json');
    expect(marker.files).toContainEqual({
      path: 'tokenizer/vocab.json',
      size: vocab?.content.length,
      gitSha1: vocab?.gitSha1,
    });
    // The file list came in pages, and nothing outside the export was requested.
    expect(fake.requests.filter((request) => request.url.includes('/tree/')).length).toBeGreaterThan(1);
    for (const path of Object.keys(UNRELATED_FILES)) expect(fake.fileRequests(path)).toEqual([]);
    expect(run.stdout).toContain(`SDBOT_MODELS=${dir}`);
    expect(run.stdout).toContain('13 files');
    expect(run.stderr).toContain('fetched  unet/weights.pb');
  });

  it('a second run over a complete directory fetches nothing', async () => {
    const fake = await serve(exportCommit());
    const dir = await tempDir();
    expect(
      (await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir], { HF_ENDPOINT: fake.url })).code,
    ).toBe(0);
    const before = fake.requests.length;

    const again = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir], {
      HF_ENDPOINT: fake.url,
    });

    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to fetch');
    expect(fake.requests.slice(before).filter((request) => request.url.includes('/resolve/'))).toEqual([]);
  });

  it('resumes a dropped connection with a Range request', async () => {
    const commit = exportCommit();
    const fake = await serve(commit);
    fake.setFault('unet/weights.pb', { dropAfterBytes: 100_000 });
    const dir = await tempDir();
    const events: DownloadEvent[] = [];

    await downloadModel(options(fake, dir, { onEvent: (event) => events.push(event) }));

    const requests = fake.fileRequests('unet/weights.pb').filter((request) => request.server === 'cdn');
    expect(requests).toHaveLength(2);
    expect(requests[0]?.headers.range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(requests[1]?.headers.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(100_000);
    expect(events.some((event) => event.type === 'file:retry' && event.file.path === 'unet/weights.pb')).toBe(
      true,
    );
    await expectSameFiles(dir, commit);
  });

  it('starts over when the server ignores Range', async () => {
    const commit = exportCommit();
    const fake = await serve(commit, { ignoreRange: true });
    fake.setFault('unet/weights.pb', { dropAfterBytes: 100_000 });
    const dir = await tempDir();

    await downloadModel(options(fake, dir));

    const requests = fake.fileRequests('unet/weights.pb').filter((request) => request.server === 'cdn');
    expect(requests).toHaveLength(2);
    expect(requests[1]?.headers.range).toMatch(/^bytes=\d+-$/);
    await expectSameFiles(dir, commit);
  });

  it('retries a flaky hub and a stalled transfer with backoff', async () => {
    const commit = exportCommit();
    const fake = await serve(commit);
    fake.failRequests('/revision/', 503);
    fake.failRequests('/resolve/', 500);
    fake.setFault('unet/weights.pb', { stallAfterBytes: 60_000 });
    const dir = await tempDir();
    const events: DownloadEvent[] = [];

    await downloadModel(options(fake, dir, { stallTimeoutMs: 200, onEvent: (event) => events.push(event) }));

    expect(events.filter((event) => event.type === 'hub:retry')).toHaveLength(1);
    const reasons = events.flatMap((event) => (event.type === 'file:retry' ? [event.reason] : []));
    expect(reasons).toContain('no data for 200ms while fetching unet/weights.pb');
    expect(reasons.some((reason) => reason.includes('the hub answered 500'))).toBe(true);
    const cdn = fake.fileRequests('unet/weights.pb').filter((request) => request.server === 'cdn');
    expect(cdn.at(-1)?.headers.range).toBe('bytes=60000-');
    await expectSameFiles(dir, commit);
  });

  it('names the path and the reason when the disk refuses a write', async () => {
    const fake = await serve(exportCommit());
    const dir = await tempDir();
    await writeFile(join(dir, 'unet'), 'a file where the unet folder goes');

    const run = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir], {
      HF_ENDPOINT: fake.url,
    });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `error [DOWNLOAD_FAILED]: cannot write ${join(dir, 'unet')}: a file is in the way (EEXIST)`,
    );
  });

  it('retries a file once when its checksum does not match', async () => {
    const commit = exportCommit();
    const fake = await serve(commit);
    fake.setFault('unet/weights.pb', { corrupt: true, times: 1 });
    const dir = await tempDir();
    const events: DownloadEvent[] = [];

    await downloadModel(options(fake, dir, { onEvent: (event) => events.push(event) }));

    const retry = events.find((event) => event.type === 'file:retry');
    expect(retry?.type === 'file:retry' ? retry.reason : '').toContain(
      'checksum mismatch for unet/weights.pb',
    );
    await expectSameFiles(dir, commit);
  });

  it('fails naming the file and both hashes when the checksum keeps failing, leaving nothing in place', async () => {
    const commit = exportCommit();
    const fake = await serve(commit);
    fake.setFault('unet/weights.pb', { corrupt: true, times: 2 });
    const dir = await tempDir();

    const run = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir], {
      HF_ENDPOINT: fake.url,
    });

    const weights = commit.files.find((file) => file.path === 'unet/weights.pb')?.content ?? Buffer.alloc(0);
    const corrupted = Buffer.from(weights);
    corrupted[0] = (corrupted[0] ?? 0) ^ 0xff;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `error [DOWNLOAD_FAILED]: checksum mismatch for unet/weights.pb: expected sha256 ${sha256Hex(weights)}, got ${sha256Hex(corrupted)}`,
    );
    expect(existsSync(join(dir, 'unet/weights.pb'))).toBe(false);
    expect(existsSync(join(dir, 'unet/weights.pb.partial'))).toBe(false);
    expect(existsSync(join(dir, DOWNLOAD_MARKER))).toBe(false);
  });

  it('checks small files against their git blob sha1', async () => {
    const commit = exportCommit();
    const fake = await serve(commit);
    fake.setFault('tokenizer/vocab.json', { corrupt: true, times: 2 });
    const dir = await tempDir();

    const failure = await downloadModel(options(fake, dir)).catch((error: unknown) => error);

    const vocab = commit.files.find((file) => file.path === 'tokenizer/vocab.json');
    expect(failure).toBeInstanceOf(SdbotError);
    expect((failure as SdbotError).code).toBe('DOWNLOAD_FAILED');
    expect((failure as SdbotError).message).toContain(
      `checksum mismatch for tokenizer/vocab.json: expected git-sha1 ${vocab?.gitSha1 ?? ''}, got `,
    );
    expect(existsSync(join(dir, 'tokenizer/vocab.json'))).toBe(false);
  });

  it('an interrupted run leaves no complete-looking directory, and the next run finishes only what is missing', async () => {
    const commit = exportCommit();
    const fake = await serve(commit);
    fake.setFault('unet/weights.pb', { stallAfterBytes: 50_000 });
    const dir = await tempDir();
    const controller = new AbortController();
    const others = EXPORT_PATHS.filter((path) => path !== 'unet/weights.pb');

    const interrupted = runSdbot(
      ['models', 'download', 'acme/sd-onnx', '--dir', dir],
      { HF_ENDPOINT: fake.url },
      controller.signal,
    );
    await waitFor(async () => {
      const partial = await stat(join(dir, 'unet/weights.pb.partial')).catch(() => undefined);
      return partial?.size === 50_000 && others.every((path) => existsSync(join(dir, path)));
    }, 'every other file and a partial weights.pb');
    controller.abort('SIGINT');
    const first = await interrupted;

    expect(first.code).toBe(1);
    expect(first.stderr).toContain('error [CANCELLED]: download interrupted');
    expect(existsSync(join(dir, DOWNLOAD_MARKER))).toBe(false);
    expect(existsSync(join(dir, 'unet/weights.pb'))).toBe(false);

    const before = fake.requests.length;
    const second = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir], {
      HF_ENDPOINT: fake.url,
    });

    expect(second.code).toBe(0);
    const fileRequests = fake.requests
      .slice(before)
      .filter((request) => request.url.includes('/resolve/') || request.server === 'cdn');
    // Only weights.pb is fetched again (hub, then CDN), from where the first run stopped.
    expect(fileRequests).toEqual(fake.fileRequests('unet/weights.pb').slice(-2));
    expect(fileRequests.map((request) => request.headers.range)).toEqual(['bytes=50000-', 'bytes=50000-']);
    expect(second.stdout).toContain(`1 fetched`);
    expect(existsSync(join(dir, DOWNLOAD_MARKER))).toBe(true);
    await expectSameFiles(dir, commit);
  });

  it('sends HF_TOKEN as a Bearer token to the hub only, and never prints it', async () => {
    const token = 'sdbot-test-credential-7f3a9c';
    const commit = exportCommit();
    hub = await startFakeHub({
      repos: [{ id: 'acme/sd-onnx', refs: { main: commit }, access: 'private' }],
      token,
    });
    const dir = await tempDir();

    const run = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir], {
      HF_ENDPOINT: hub.url,
      HF_TOKEN: token,
    });

    expect(run.code).toBe(0);
    await expectSameFiles(dir, commit);
    const hubRequests = hub.requests.filter((request) => request.server === 'hub');
    const cdnRequests = hub.requests.filter((request) => request.server === 'cdn');
    expect(hubRequests.length).toBeGreaterThan(0);
    expect(cdnRequests.length).toBeGreaterThan(0);
    for (const request of hubRequests) expect(request.headers.authorization).toBe(`Bearer ${token}`);
    for (const request of cdnRequests) expect(request.headers.authorization).toBeUndefined();
    expect(run.stdout + run.stderr).not.toContain(token);
    expect(await readFile(join(dir, DOWNLOAD_MARKER), 'utf8')).not.toContain(token);

    const refused = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', await tempDir()], {
      HF_ENDPOINT: hub.url,
      HF_TOKEN: `${token}-revoked`,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'error [PERMISSION_DENIED]: the hub refused HF_TOKEN for acme/sd-onnx (401)',
    );
    expect(refused.stdout + refused.stderr).not.toContain(token);

    const shown = await runSdbot(['config', '--json'], { HF_TOKEN: token });
    expect(shown.stdout).toContain('"hfToken": "[REDACTED]"');
    expect(shown.stdout).not.toContain(token);
  });

  it('explains a missing repository, a refused or gated one, a missing revision and a repository without an export', async () => {
    hub = await startFakeHub({
      repos: [
        { id: 'acme/sd-onnx', refs: { main: exportCommit() } },
        { id: 'acme/gated', refs: { main: exportCommit() }, access: 'gated' },
        { id: 'acme/pytorch-only', refs: { main: fakeCommit(UNRELATED_FILES) } },
      ],
      token: 'sdbot-test-credential-1',
    });
    const dir = await tempDir();
    const download = (repo: string, env: NodeJS.ProcessEnv = {}, ...flags: string[]) =>
      runSdbot(['models', 'download', repo, '--dir', dir, ...flags], { HF_ENDPOINT: hub?.url, ...env });
    const withToken = { HF_TOKEN: 'sdbot-test-credential-1' };

    const missing = await download('acme/nope', withToken);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error [NOT_FOUND]: repository acme/nope not found on ${hub.url}`);

    const anonymous = await download('acme/nope');
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('error [PERMISSION_DENIED]: acme/nope needs authentication (401)');
    expect(anonymous.stderr).toContain('set HF_TOKEN and accept the licence');

    const gated = await download('acme/gated');
    expect(gated.code).toBe(1);
    expect(gated.stderr).toContain('error [PERMISSION_DENIED]: access to acme/gated was refused (401)');
    expect(gated.stderr).toContain(`accept the model's licence at ${hub.url}/acme/gated`);
    expect(gated.stderr).toContain('HF_TOKEN is not set');

    const gatedWithToken = await download('acme/gated', withToken);
    expect(gatedWithToken.stderr).toContain('access to acme/gated was refused (403)');
    expect(gatedWithToken.stderr).toContain('the current HF_TOKEN has no access');

    const revision = await download('acme/sd-onnx', {}, '--revision', 'onnx');
    expect(revision.code).toBe(1);
    expect(revision.stderr).toContain('error [NOT_FOUND]: revision "onnx" not found in acme/sd-onnx');

    const noExport = await download('acme/pytorch-only');
    expect(noExport.code).toBe(1);
    expect(noExport.stderr).toContain('error [MODEL_INVALID]: acme/pytorch-only@main has no ONNX export');
    expect(noExport.stderr).toContain('text_encoder/, unet/, vae_encoder/, vae_decoder/, safety_checker/');
    expect(noExport.stderr).toContain('try --revision onnx');

    expect(existsSync(join(dir, DOWNLOAD_MARKER))).toBe(false);
  });

  it('takes the export from a branch or a subfolder, into a model-named cache folder by default', async () => {
    const onBranch = fakeCommit(onnxExport());
    const inSubfolders = fakeCommit({
      ...UNRELATED_FILES,
      ...onnxExport('onnx/'),
      ...onnxExport('onnx-fp16/'),
    });
    hub = await startFakeHub({
      repos: [
        { id: 'acme/sd-branch', refs: { main: fakeCommit(UNRELATED_FILES), onnx: onBranch } },
        { id: 'acme/sd-folders', refs: { main: inSubfolders } },
      ],
    });
    const cache = await tempDir();
    const env = { HF_ENDPOINT: hub.url, XDG_CACHE_HOME: cache };

    const branch = await runSdbot(['models', 'download', 'acme/sd-branch', '--revision', 'onnx'], env);
    expect(branch.code).toBe(0);
    await expectSameFiles(join(cache, 'sdbot/models/sd-branch-onnx'), onBranch);

    const ambiguous = await runSdbot(['models', 'download', 'acme/sd-folders'], env);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(
      'holds several ONNX exports (onnx-fp16/, onnx/): pick one with --subfolder',
    );

    const dir = await tempDir();
    const picked = await runSdbot(
      ['models', 'download', 'acme/sd-folders', '--subfolder', 'onnx-fp16', '--dir', dir],
      env,
    );
    expect(picked.code).toBe(0);
    expect(await listFiles(dir)).toEqual([DOWNLOAD_MARKER, ...EXPORT_PATHS].sort());
    await expectSameFiles(dir, inSubfolders, 'onnx-fp16/');
  });

  it('rejects bad usage with exit code 2', async () => {
    const none = await runSdbot(['models']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('a subcommand is required: sdbot models download');
    const unknown = await runSdbot(['models', 'fetch', 'acme/sd-onnx']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown subcommand "fetch"; models subcommands: download');
    const noRepo = await runSdbot(['models', 'download']);
    expect(noRepo.stderr).toContain('download needs a repository id');
    const badRepo = await runSdbot(['models', 'download', 'https://huggingface.co/acme/x']);
    expect(badRepo.code).toBe(2);
    expect(badRepo.stderr).toContain('REPO: "https://huggingface.co/acme/x" is not a hub repository id');
    const concurrency = await runSdbot(['models', 'download', 'acme/sd-onnx', '--concurrency', '0']);
    expect(concurrency.code).toBe(2);
    expect(concurrency.stderr).toContain('--concurrency: must be an integer in 1..16');
  });
});

const tinySd = sharedFixture('tiny-sd');

describe.skipIf(!tinySd.available)(`sdbot models download of the tiny-sd fixture${tinySd.skipNote}`, () => {
  it('reproduces the served model directory byte for byte', async () => {
    const commit = await commitFromDirectory(tinySd.path);
    const fake = await serve(commit);
    const dir = await tempDir();

    const run = await runSdbot(['models', 'download', 'acme/sd-onnx', '--dir', dir], {
      HF_ENDPOINT: fake.url,
    });

    expect(run.code).toBe(0);
    const served = commit.files.map((file) => file.path).sort();
    expect(await listFiles(dir)).toEqual([DOWNLOAD_MARKER, ...served].sort());
    for (const file of commit.files) {
      expect((await readFile(join(dir, file.path))).equals(file.content), file.path).toBe(true);
    }
  });
});
