/**
 * Child processes that `sdbot up` keeps running: each is restarted with exponential backoff when it
 * exits on its own, and stopped with SIGTERM (then SIGKILL after a grace period) on shutdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LOG_EVENTS } from '../log-events.js';
import type { Logger } from '../logger.js';

export interface SupervisedProcessOptions {
  /** Shown in logs: `worker sd15`, `nats-server`. */
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Where the child's stdout and stderr go. */
  output: NodeJS.WritableStream;
  logger: Logger;
  /** Called when the child exits before it was asked to stop (after the restart is scheduled). */
  onCrash?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

const FIRST_RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A child that ran this long before crashing starts its backoff again from the first delay. */
const STABLE_AFTER_MS = 60_000;

export class SupervisedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(private readonly options: SupervisedProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  isRunning(): boolean {
    return this.child?.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    const { name, command, args, env, output, logger } = this.options;
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    child.stdout.pipe(output, { end: false });
    child.stderr.pipe(output, { end: false });
    child.once('error', (error) => {
      logger.error({ err: error, process: name }, LOG_EVENTS.process.startFailed);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) return;
        this.crashes = Date.now() - this.startedAt > STABLE_AFTER_MS ? 1 : this.crashes + 1;
        const delay = Math.min(FIRST_RESTART_DELAY_MS * 2 ** (this.crashes - 1), MAX_RESTART_DELAY_MS);
        logger.warn({ process: name, code, signal, restartInMs: delay }, LOG_EVENTS.process.restarting);
        this.restartTimer = setTimeout(() => {
          if (!this.stopping) this.start();
        }, delay);
        this.options.onCrash?.(code, signal);
      });
    });
    logger.info({ process: name, childPid: child.pid }, LOG_EVENTS.process.started);
  }

  /** SIGTERM, then SIGKILL if the child is still there after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (child === undefined || !this.isRunning()) return;
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.kill('SIGTERM');
    await this.exited;
    clearTimeout(killer);
  }
}
