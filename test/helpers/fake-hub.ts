/**
 * A local imitation of the Hugging Face hub for download tests: the revision and tree APIs, the
 * resolve endpoint (small files served directly with their git sha1 as ETag, LFS files redirected
 * to a "CDN" on another port with X-Linked-Etag = sha256), Range requests, the hub's error codes,
 * and faults to inject: a connection dropped after N bytes, bytes that differ from the listed
 * hash, a transfer that stalls, a server that ignores Range. Every request is recorded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface FakeFile {
  path: string;
  content: Buffer;
  /** Stored in LFS: listed with `lfs.oid` (sha256) and served through the CDN. */
  lfs: boolean;
  sha256: string;
  gitSha1: string;
}

export interface FakeCommit {
  sha: string;
  files: FakeFile[];
}

export interface FakeRepo {
  id: string;
  /** Branch or tag name to commit; commits are also found by their sha. */
  refs: Record<string, FakeCommit>;
  /** Private repositories answer 401 without the hub's token; gated ones refuse downloads. */
  access?: 'public' | 'private' | 'gated';
}

export interface FileFault {
  /** Destroy the socket after this many body bytes. */
  dropAfterBytes?: number;
  /** Serve bytes that differ from the listed hash (same length). */
  corrupt?: boolean;
  /** Send this many body bytes, then nothing more until the client goes away. */
  stallAfterBytes?: number;
  /** Requests the fault applies to (default 1); then the file is served normally. */
  times?: number;
}

export interface FakeHubOptions {
  repos: FakeRepo[];
  /** The one token the hub accepts; any other Bearer token is refused with 401. */
  token?: string;
  /** Answer Range requests with the whole file and status 200. */
  ignoreRange?: boolean;
  /** Entries per page of the tree API (pagination through the Link header). */
  treePageSize?: number;
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export function sha256Hex(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** git's blob id: sha1 of `blob <size>\0` and the content. */
export function gitBlobSha1(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

const LFS_FILE = /\.(onnx|pb|onnx_data|safetensors|bin|png)$/;

export function fakeFile(path: string, content: Buffer | string, lfs = LFS_FILE.test(path)): FakeFile {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  return { path, content: bytes, lfs, sha256: sha256Hex(bytes), gitSha1: gitBlobSha1(bytes) };
}

export function fakeCommit(files: Record<string, Buffer | string> | FakeFile[]): FakeCommit {
  const list = Array.isArray(files)
    ? files
    : Object.entries(files).map(([path, content]) => fakeFile(path, content));
  return { sha: randomBytes(20).toString('hex'), files: list };
}

/** Every file under `directory`, as a commit (for serving a fixture such as tiny-sd). */
export async function commitFromDirectory(directory: string, prefix = ''): Promise<FakeCommit> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  const files: FakeFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const absolute = join(entry.parentPath, entry.name);
    files.push(
      fakeFile(prefix + relative(directory, absolute).split('\\').join('/'), await readFile(absolute)),
    );
  }
  return fakeCommit(files);
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  private readonly faults = new Map<string, FileFault>();
  private readonly stalled = new Set<ServerResponse>();
  private readonly failures: { match: string; status: number; times: number }[] = [];

  constructor(
    private readonly options: FakeHubOptions,
    private readonly hubServer: Server,
    private readonly cdnServer: Server,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.hubServer.address() as AddressInfo).port}`;
  }

  get cdnUrl(): string {
    return `http://127.0.0.1:${(this.cdnServer.address() as AddressInfo).port}`;
  }

  /** Answers the next `times` requests whose URL contains `match` with `status` (a flaky hub). */
  failRequests(match: string, status: number, times = 1): void {
    this.failures.push({ match, status, times });
  }

  /** Applies `fault` to the next request(s) for the file at `path` (its repository path). */
  setFault(path: string, fault: FileFault): void {
    this.faults.set(path, fault);
  }

  /** Requests for a file's bytes (hub resolve and CDN), with the Range header each carried. */
  fileRequests(path: string): RecordedRequest[] {
    const file = this.findFile(path);
    return this.requests.filter((request) =>
      request.server === 'hub'
        ? request.url.includes('/resolve/') && decodeURIComponent(request.url).endsWith(`/${path}`)
        : file !== undefined && request.url.startsWith(`/blobs/${file.sha256}`),
    );
  }

  async close(): Promise<void> {
    for (const response of this.stalled) response.destroy();
    for (const server of [this.hubServer, this.cdnServer]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
  }

  handleHub(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.url);
    const failure = this.failures.find(
      (candidate) => candidate.times > 0 && url.href.includes(candidate.match),
    );
    if (failure !== undefined) {
      failure.times -= 1;
      sendError(response, failure.status, undefined, 'injected failure');
      return;
    }
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    if (api?.[1] !== undefined && api[2] !== undefined && api[3] !== undefined) {
      const found = this.lookup(request, response, api[1], decodeURIComponent(api[3]), false);
      if (found === undefined) return;
      const { repo, commit } = found;
      if (api[2] === 'revision') {
        sendJson(response, 200, {
          id: repo.id,
          sha: commit.sha,
          siblings: commit.files.map((file) => ({ rfilename: file.path })),
        });
      } else {
        this.sendTree(response, commit, url);
      }
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve?.[1] !== undefined && resolve[2] !== undefined && resolve[3] !== undefined) {
      const found = this.lookup(request, response, resolve[1], decodeURIComponent(resolve[2]), true);
      if (found === undefined) return;
      const path = resolve[3].split('/').map(decodeURIComponent).join('/');
      const file = found.commit.files.find((candidate) => candidate.path === path);
      if (file === undefined) {
        sendError(response, 404, 'EntryNotFound', `${path} does not exist`);
        return;
      }
      const common = { 'X-Repo-Commit': found.commit.sha };
      if (file.lfs) {
        response.writeHead(302, {
          ...common,
          Location: `${this.cdnUrl}/blobs/${file.sha256}?signature=${randomBytes(8).toString('hex')}`,
          'X-Linked-Etag': `"${file.sha256}"`,
          'X-Linked-Size': String(file.content.length),
          // The hub's own ETag of an LFS file describes the pointer, not the content.
          ETag: `"${gitBlobSha1(Buffer.from(`version lfs ${file.sha256}`))}"`,
        });
        response.end();
        return;
      }
      this.serveBytes(request, response, file, { ...common, ETag: `"${file.gitSha1}"` });
      return;
    }
    sendError(response, 404, undefined, `no route for ${url.pathname}`);
  }

  handleCdn(request: IncomingMessage, response: ServerResponse): void {
    const sha = /^\/blobs\/([0-9a-f]{64})/.exec(request.url ?? '')?.[1];
    const file =
      sha === undefined ? undefined : this.allFiles().find((candidate) => candidate.sha256 === sha);
    if (file === undefined) {
      response.writeHead(404).end();
      return;
    }
    this.serveBytes(request, response, file, { ETag: `"${file.sha256}"` });
  }

  private lookup(
    request: IncomingMessage,
    response: ServerResponse,
    repoId: string,
    revision: string,
    downloading: boolean,
  ): { repo: FakeRepo; commit: FakeCommit } | undefined {
    const authorization = request.headers.authorization;
    const authorized = authorization !== undefined && authorization === `Bearer ${this.options.token ?? ''}`;
    if (authorization !== undefined && !authorized) {
      sendError(response, 401, undefined, 'Invalid credentials in Authorization header');
      return undefined;
    }
    const repo = this.options.repos.find((candidate) => candidate.id === repoId);
    if (repo === undefined || (repo.access === 'private' && !authorized)) {
      // Like the hub: without credentials a missing repository is indistinguishable from a private one.
      sendError(response, authorized ? 404 : 401, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (repo.access === 'gated' && downloading) {
      sendError(
        response,
        authorized ? 403 : 401,
        'GatedRepo',
        `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
      return undefined;
    }
    const commit =
      repo.refs[revision] ?? Object.values(repo.refs).find((candidate) => candidate.sha === revision);
    if (commit === undefined) {
      sendError(response, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return undefined;
    }
    return { repo, commit };
  }

  private sendTree(response: ServerResponse, commit: FakeCommit, url: URL): void {
    const folders = new Set<string>();
    for (const file of commit.files) {
      const parts = file.path.split('/');
      for (let depth = 1; depth < parts.length; depth++) folders.add(parts.slice(0, depth).join('/'));
    }
    const entries = [
      ...[...folders].map((path) => ({
        type: 'directory',
        oid: gitBlobSha1(Buffer.from(path)),
        size: 0,
        path,
      })),
      ...commit.files.map((file) => ({
        type: 'file',
        oid: file.lfs ? gitBlobSha1(Buffer.from(`version lfs ${file.sha256}`)) : file.gitSha1,
        size: file.content.length,
        path: file.path,
        ...(file.lfs ? { lfs: { oid: file.sha256, size: file.content.length, pointerSize: 134 } } : {}),
      })),
    ].sort((a, b) => a.path.localeCompare(b.path));
    const pageSize = this.options.treePageSize ?? 1000;
    const cursor = Number(url.searchParams.get('cursor') ?? '0');
    const page = entries.slice(cursor, cursor + pageSize);
    const headers: Record<string, string> = {};
    if (cursor + pageSize < entries.length) {
      const next = new URL(url.pathname, this.url);
      next.searchParams.set('recursive', 'true');
      next.searchParams.set('cursor', String(cursor + pageSize));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    sendJson(response, 200, page, headers);
  }

  private serveBytes(
    request: IncomingMessage,
    response: ServerResponse,
    file: FakeFile,
    headers: Record<string, string>,
  ): void {
    const fault = this.takeFault(file.path);
    let content = file.content;
    if (fault?.corrupt === true && content.length > 0) {
      content = Buffer.from(content);
      content[0] = (content[0] ?? 0) ^ 0xff;
    }
    const size = content.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    const sent: Record<string, string> = {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
    };
    if (range?.[1] !== undefined && this.options.ignoreRange !== true) {
      start = Number(range[1]);
      if (range[2] !== undefined && range[2] !== '') end = Math.min(end, Number(range[2]));
      if (start >= size) {
        response.writeHead(416, { ...sent, 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      sent['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const body = content.subarray(start, end + 1);
    response.writeHead(status, { ...sent, 'Content-Length': String(body.length) });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    if (fault?.dropAfterBytes !== undefined) {
      response.write(body.subarray(0, fault.dropAfterBytes), () => response.socket?.destroy());
      return;
    }
    if (fault?.stallAfterBytes !== undefined) {
      this.stalled.add(response);
      response.on('close', () => this.stalled.delete(response));
      response.write(body.subarray(0, fault.stallAfterBytes));
      return;
    }
    response.end(body);
  }

  private takeFault(path: string): FileFault | undefined {
    const fault = this.faults.get(path);
    if (fault === undefined) return undefined;
    const times = (fault.times ?? 1) - 1;
    if (times <= 0) this.faults.delete(path);
    else this.faults.set(path, { ...fault, times });
    return fault;
  }

  private findFile(path: string): FakeFile | undefined {
    return this.allFiles().find((file) => file.path === path);
  }

  private allFiles(): FakeFile[] {
    return this.options.repos.flatMap((repo) => Object.values(repo.refs).flatMap((commit) => commit.files));
  }
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

function sendError(
  response: ServerResponse,
  status: number,
  code: string | undefined,
  message: string,
): void {
  sendJson(
    response,
    status,
    { error: message },
    code === undefined
      ? { 'X-Error-Message': message }
      : { 'X-Error-Code': code, 'X-Error-Message': message },
  );
}

async function listen(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const hubServer = createServer();
  const cdnServer = createServer();
  const hub = new FakeHub(options, hubServer, cdnServer);
  const record = (server: 'hub' | 'cdn', request: IncomingMessage) => {
    hub.requests.push({
      server,
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      headers: request.headers,
    });
  };
  hubServer.on('request', (request: IncomingMessage, response: ServerResponse) => {
    record('hub', request);
    hub.handleHub(request, response);
  });
  cdnServer.on('request', (request: IncomingMessage, response: ServerResponse) => {
    record('cdn', request);
    hub.handleCdn(request, response);
  });
  await Promise.all([listen(hubServer), listen(cdnServer)]);
  return hub;
}
