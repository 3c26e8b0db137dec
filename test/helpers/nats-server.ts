/**
 * Real nats-server processes for integration tests: JetStream on a free port with a temp store,
 * so a test can SIGKILL the server and restart it on the same port and store. A 3-node cluster
 * helper is here too. Never touches the server that may already listen on 4222.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { freePort } from './ports.js';

export const natsServerBinary = process.env.NATS_SERVER_BIN ?? 'nats-server';

/** True when the nats-server binary can be started here. */
export function natsServerAvailable(): boolean {
  const probe = spawnSync(natsServerBinary, ['--version'], { encoding: 'utf8' });
  return probe.status === 0;
}

export interface NatsServerOptions {
  /** Extra nats-server configuration appended to the generated file (accounts, limits). */
  extraConfig?: string;
  /** Configuration files (absolute paths) to include, e.g. the real deploy/nats/accounts.conf. */
  include?: string[];
  serverName?: string;
  /** Reuse a store directory (otherwise a fresh temp dir). */
  storeDir?: string;
  cluster?: { name: string; port: number; routes: number[] };
  port?: number;
  monitorPort?: number;
}

const running = new Set<NatsTestServer>();
process.once('exit', () => {
  for (const server of running) server.process?.kill('SIGKILL');
});

export class NatsTestServer {
  readonly port: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly configPath: string;
  readonly serverName: string;
  process: ChildProcess | undefined;
  /** The server's log, for diagnosing a failed test. */
  log = '';

  constructor(
    port: number,
    monitorPort: number,
    storeDir: string,
    private readonly workDir: string,
    private readonly options: NatsServerOptions,
  ) {
    this.port = port;
    this.monitorPort = monitorPort;
    this.storeDir = storeDir;
    this.serverName = options.serverName ?? `sdbot-test-${port}`;
    this.configPath = join(workDir, 'nats.conf');
    writeFileSync(this.configPath, this.renderConfig());
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPort}`;
  }

  private renderConfig(): string {
    const lines = [
      `server_name: "${this.serverName}"`,
      `listen: "127.0.0.1:${this.port}"`,
      `http: "127.0.0.1:${this.monitorPort}"`,
      `jetstream { store_dir: "${this.storeDir}" }`,
    ];
    const cluster = this.options.cluster;
    if (cluster) {
      const routes = cluster.routes.map((port) => `"nats-route://127.0.0.1:${port}"`).join(', ');
      lines.push(
        `cluster { name: "${cluster.name}", listen: "127.0.0.1:${cluster.port}", routes: [${routes}] }`,
      );
    }
    // nats-server resolves includes relative to the including file, never as absolute paths.
    for (const file of this.options.include ?? []) lines.push(`include "${relative(this.workDir, file)}"`);
    if (this.options.extraConfig) lines.push(this.options.extraConfig);
    return `${lines.join('\n')}\n`;
  }

  isRunning(): boolean {
    return this.process?.exitCode === null && this.process.signalCode === null;
  }

  /** Starts the process; resolves once it accepts connections and JetStream is ready. */
  async start({ waitForJetStream = true } = {}): Promise<void> {
    if (this.isRunning()) throw new Error('nats-server is already running');
    const child = spawn(natsServerBinary, ['-c', this.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    running.add(this);
    const append = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.once('exit', () => running.delete(this));
    await this.waitUntilHealthy(waitForJetStream);
  }

  /**
   * Resolves once every stream and consumer this server holds a replica of has caught up (its
   * /healthz). After a crash, a replica that sees no new writes can take minutes.
   */
  waitUntilCurrent(timeoutMs: number): Promise<void> {
    return this.waitUntilHealthy(true, timeoutMs);
  }

  private async waitUntilHealthy(jetstream: boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const path = jetstream ? '/healthz' : '/healthz?js-enabled-only=true';
    while (Date.now() < deadline) {
      if (!this.isRunning()) {
        throw new Error(
          `nats-server exited (${String(this.process?.exitCode ?? this.process?.signalCode)}):\n${this.log}`,
        );
      }
      try {
        const response = await fetch(`${this.monitorUrl}${path}`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(
      `nats-server on ${String(this.port)} not healthy after ${String(timeoutMs)} ms:\n${this.log}`,
    );
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || !this.isRunning()) return;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
    child.kill(signal);
    await exited;
  }

  /** Graceful shutdown (SIGTERM): JetStream flushes its store. */
  async stop(): Promise<void> {
    await this.terminate('SIGTERM');
  }

  /** Abrupt death (SIGKILL): what a crash or OOM kill looks like. */
  async kill(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  /** Starts again on the same port and store directory. */
  async restart(options: { waitForJetStream?: boolean } = {}): Promise<void> {
    await this.stop();
    await this.start(options);
  }

  /** Stops the server and deletes its temp files. */
  async cleanup(): Promise<void> {
    await this.kill();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** Attempts when a picked free port is taken before nats-server binds it (another test got there). */
const PORT_RACE_ATTEMPTS = 3;

function lostPortRace(error: unknown): boolean {
  return error instanceof Error && error.message.includes('address already in use');
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsTestServer> {
  for (let attempt = 1; ; attempt += 1) {
    const workDir = mkdtempSync(join(tmpdir(), 'sdbot-nats-'));
    const storeDir = options.storeDir ?? join(workDir, 'jetstream');
    const server = new NatsTestServer(
      options.port ?? (await freePort()),
      options.monitorPort ?? (await freePort()),
      storeDir,
      workDir,
      options,
    );
    try {
      await server.start();
      return server;
    } catch (error) {
      await server.cleanup();
      // A port picked here can be taken by a parallel test before nats-server binds it: pick again.
      const pickedPorts = options.port === undefined || options.monitorPort === undefined;
      if (!pickedPorts || !lostPortRace(error) || attempt >= PORT_RACE_ATTEMPTS) throw error;
    }
  }
}

export interface NatsTestCluster {
  servers: NatsTestServer[];
  /** Client URLs of every node, for `servers:` in connect options. */
  urls: string[];
  cleanup(): Promise<void>;
}

/** Three JetStream nodes in one cluster; resolves when every node reports healthy. */
export async function startNatsCluster(size = 3, extraConfig?: string): Promise<NatsTestCluster> {
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const servers = await Promise.all(
    clusterPorts.map(async (clusterPort, index) => {
      const workDir = mkdtempSync(join(tmpdir(), 'sdbot-nats-cluster-'));
      const options: NatsServerOptions = {
        serverName: `sdbot-test-n${String(index + 1)}`,
        cluster: {
          name: 'sdbot-test',
          port: clusterPort,
          routes: clusterPorts.filter((p) => p !== clusterPort),
        },
      };
      if (extraConfig !== undefined) options.extraConfig = extraConfig;
      return new NatsTestServer(
        await freePort(),
        await freePort(),
        join(workDir, 'jetstream'),
        workDir,
        options,
      );
    }),
  );
  const cleanup = async () => {
    await Promise.all(servers.map((server) => server.cleanup()));
  };
  try {
    await Promise.all(servers.map((server) => server.start()));
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { servers, urls: servers.map((server) => server.url), cleanup };
}
