/**
 * The few Hugging Face hub endpoints a model download needs: the revision API (which commit a
 * branch or tag points at), the tree API (every file with its size and hash) and the resolve
 * endpoint (the file's bytes, usually through a redirect to a CDN). The token goes only to the
 * hub's own origin, never to the CDN a redirect points at, and never into an error message.
 */
import { SdbotError } from '@sdbot/shared';

export interface HubClientOptions {
  /** Hub base URL, e.g. https://huggingface.co (HF_ENDPOINT). */
  endpoint: string;
  /** Sent as `Authorization: Bearer` to the hub origin only (HF_TOKEN). */
  token?: string | undefined;
}

/** A file in the tree listing: `oid` is the git blob sha1; LFS files add the content's sha256. */
export interface HubTreeFile {
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number };
}

/** The answer to a resolve request once redirects are followed. */
export interface HubFileResponse {
  /** 200 (whole file), 206 (the requested range) or 416 (range past the end). */
  response: Response;
  /** `X-Linked-Etag` or `ETag` of the hub's answer, quotes removed: sha256 (LFS) or git sha1. */
  etag: string | undefined;
}

const USER_AGENT = 'sdbot-models-download';
const MAX_REDIRECTS = 5;

interface RequestContext {
  repo: string;
  revision: string;
  kind: 'revision' | 'file list' | 'file';
  /** What was asked for, for messages: `revision "main"`, `the file list`, `unet/model.onnx`. */
  subject: string;
}

export class HubClient {
  private readonly endpoint: URL;
  private readonly token: string | undefined;

  constructor(options: HubClientOptions) {
    this.endpoint = new URL(options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
    this.token = options.token;
  }

  /** The hub page of a repository, for messages (licence to accept, branches to pick from). */
  repoPage(repo: string): string {
    return new URL(repo, this.endpoint).href;
  }

  /** The commit a branch, tag or commit id points at. */
  async resolveRevision(repo: string, revision: string, signal: AbortSignal): Promise<string> {
    const url = this.apiUrl(`api/models/${repo}/revision/${encodeURIComponent(revision)}`);
    const context: RequestContext = { repo, revision, kind: 'revision', subject: `revision "${revision}"` };
    const { body } = await this.getJson(url, context, signal);
    const sha = isRecord(body) ? body.sha : undefined;
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
      throw new SdbotError(
        'DOWNLOAD_FAILED',
        `the hub's answer for ${repo}@${revision} carries no commit id`,
      );
    }
    return sha;
  }

  /** Every file at a commit, following the API's pagination (`Link: <...>; rel="next"`). */
  async listFiles(repo: string, commit: string, signal: AbortSignal): Promise<HubTreeFile[]> {
    const files: HubTreeFile[] = [];
    let next: URL | undefined = this.apiUrl(`api/models/${repo}/tree/${commit}?recursive=true`);
    const context: RequestContext = { repo, revision: commit, kind: 'file list', subject: 'the file list' };
    while (next !== undefined) {
      const { body, response } = await this.getJson(next, context, signal);
      if (!Array.isArray(body)) {
        throw new SdbotError('DOWNLOAD_FAILED', `the hub's file list of ${repo} is not a JSON array`);
      }
      for (const entry of body) {
        const file = parseTreeFile(entry);
        if (file !== undefined) files.push(file);
      }
      next = nextPageUrl(response.headers.get('link'), next);
    }
    return files;
  }

  /**
   * Opens a file at a commit, from byte `offset` on. Redirects are followed by hand so the token
   * stays on the hub's origin and the hash headers of the hub's own answer are kept.
   */
  async openFile(
    repo: string,
    commit: string,
    path: string,
    offset: number,
    signal: AbortSignal,
  ): Promise<HubFileResponse> {
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    let url = this.apiUrl(`${repo}/resolve/${commit}/${encodedPath}`);
    const context: RequestContext = { repo, revision: commit, kind: 'file', subject: path };
    let etag: string | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      const response = await this.fetch(url, headers, context, signal);
      if (url.origin === this.endpoint.origin) {
        etag = normalizeEtag(response.headers.get('x-linked-etag') ?? response.headers.get('etag')) ?? etag;
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        url = new URL(location, url);
        continue;
      }
      if (response.status === 200 || response.status === 206 || response.status === 416) {
        return { response, etag };
      }
      throw await hubError(response, context, this);
    }
    throw new SdbotError('DOWNLOAD_FAILED', `too many redirects fetching ${path} from ${repo}`);
  }

  /** True when a token is configured (messages differ with and without one). */
  get hasToken(): boolean {
    return this.token !== undefined;
  }

  private apiUrl(path: string): URL {
    return new URL(path, this.endpoint);
  }

  private async getJson(
    url: URL,
    context: RequestContext,
    signal: AbortSignal,
  ): Promise<{ body: unknown; response: Response }> {
    const response = await this.fetch(url, { Accept: 'application/json' }, context, signal, 'follow');
    if (!response.ok) throw await hubError(response, context, this);
    try {
      return { body: await response.json(), response };
    } catch (cause) {
      if (signal.aborted) throw cause;
      throw new SdbotError('DOWNLOAD_FAILED', `the hub's answer for ${context.subject} is not JSON`, {
        cause,
        retryable: true,
      });
    }
  }

  private async fetch(
    url: URL,
    headers: Record<string, string>,
    context: RequestContext,
    signal: AbortSignal,
    redirect: 'manual' | 'follow' = 'manual',
  ): Promise<Response> {
    const sent: Record<string, string> = { 'User-Agent': USER_AGENT, ...headers };
    if (this.token !== undefined && url.origin === this.endpoint.origin) {
      sent.Authorization = `Bearer ${this.token}`;
    }
    try {
      return await fetch(url, { headers: sent, redirect, signal });
    } catch (cause) {
      if (signal.aborted) throw cause;
      throw new SdbotError(
        'DOWNLOAD_FAILED',
        `cannot reach ${url.origin} for ${context.subject} of ${context.repo}: ${networkReason(cause)}`,
        { cause, retryable: true },
      );
    }
  }
}

/** Maps the hub's refusals to errors a user can act on (the hub names them in `X-Error-Code`). */
async function hubError(response: Response, context: RequestContext, hub: HubClient): Promise<SdbotError> {
  const code = response.headers.get('x-error-code');
  const hubMessage = response.headers.get('x-error-message') ?? (await errorFromBody(response));
  const said = hubMessage === undefined ? '' : ` (the hub says: ${hubMessage})`;
  const { repo, revision, subject } = context;
  const page = hub.repoPage(repo);
  if (code === 'RevisionNotFound') {
    return new SdbotError(
      'NOT_FOUND',
      `revision "${revision}" not found in ${repo}: check the branch, tag or commit id (${page})`,
    );
  }
  if (code === 'EntryNotFound') {
    return new SdbotError('NOT_FOUND', `${subject} not found in ${repo} at ${revision}`);
  }
  if (code === 'GatedRepo' || response.status === 403) {
    return new SdbotError(
      'PERMISSION_DENIED',
      `access to ${repo} was refused (${response.status})${said}: accept the model's licence at ${page} ` +
        `while logged in, then set HF_TOKEN to a token of that account` +
        (hub.hasToken ? ' (the current HF_TOKEN has no access)' : ' (HF_TOKEN is not set)'),
    );
  }
  if (response.status === 401) {
    return new SdbotError(
      'PERMISSION_DENIED',
      hub.hasToken
        ? `the hub refused HF_TOKEN for ${repo} (401)${said}: check that the token is valid and can read the repository`
        : `${repo} needs authentication (401): it does not exist, or it is private or gated; ` +
            `check the name, then set HF_TOKEN and accept the licence at ${page}`,
    );
  }
  if (response.status === 404) {
    return new SdbotError(
      'NOT_FOUND',
      code === 'RepoNotFound' || context.kind === 'revision'
        ? `repository ${repo} not found on ${new URL(page).origin}: check the name (owner/name)`
        : `${subject} not found in ${repo} at ${revision}`,
    );
  }
  const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
  return new SdbotError(
    'DOWNLOAD_FAILED',
    `the hub answered ${response.status} ${response.statusText} for ${subject} of ${repo}${said}`,
    { retryable },
  );
}

async function errorFromBody(response: Response): Promise<string | undefined> {
  try {
    const body: unknown = JSON.parse(await response.text());
    return isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

function parseTreeFile(entry: unknown): HubTreeFile | undefined {
  if (!isRecord(entry) || entry.type !== 'file') return undefined;
  const { path, size, oid, lfs } = entry;
  if (typeof path !== 'string' || typeof size !== 'number' || typeof oid !== 'string') return undefined;
  const file: HubTreeFile = { path, size, oid };
  if (isRecord(lfs) && typeof lfs.oid === 'string' && typeof lfs.size === 'number') {
    file.lfs = { oid: lfs.oid, size: lfs.size };
  }
  return file;
}

/** The `rel="next"` target of a Link header, resolved against the page that carried it. */
function nextPageUrl(link: string | null, current: URL): URL | undefined {
  if (link === null) return undefined;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match?.[1] !== undefined) return new URL(match[1], current);
  }
  return undefined;
}

/** `W/"abc"` and `"abc"` both become `abc`. */
function normalizeEtag(value: string | null): string | undefined {
  if (value === null) return undefined;
  const bare = value.replace(/^W\//, '').replace(/^"|"$/g, '');
  return bare === '' ? undefined : bare;
}

/** fetch wraps the socket error in `cause`; its message says more than "fetch failed". */
export function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${cause.message} (${code})`;
  }
  return error.message;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
