/**
 * The Grafana dashboard in deploy/ against what sdbot exports: every metric a panel queries is
 * served by a running `sdbot bot` or `sdbot worker`, and the README lists every sdbot metric
 * they serve, so a renamed metric cannot leave an empty panel or an undocumented series behind.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotWorld, FAST_BOT_ENV, resultOf } from '../helpers/bot-world.js';
import { runSdbot } from '../helpers/cli.js';
import { natsServerAvailable } from '../helpers/nats-server.js';
import { freePort } from '../helpers/ports.js';
import { repositoryRoot } from '../helpers/shared-fixtures.js';
import { spawnWorker, type WorkerProcess } from '../helpers/worker-process.js';

const hasNats = natsServerAvailable();
const dashboardPath = join(repositoryRoot, 'deploy/k8s/monitoring/sdbot-dashboard.json');

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
}

/** Metric families a PromQL expression reads (`_bucket` of a histogram is the histogram). */
function queriedMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b(sdbot_[a-z0-9_]+)/g)].map((match) =>
    (match[1] ?? '').replace(/_(bucket|sum|count)$/, ''),
  );
}

/** Families declared on a /metrics page (`# TYPE name kind`), with or without samples yet. */
function exportedMetrics(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((match) => match[1] ?? ''));
}

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

async function untilReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status;
    if (status === 200) return;
    await sleep(100);
  }
  throw new Error(`port ${port} never became ready`);
}

describe.skipIf(!hasNats)(`the Grafana dashboard${hasNats ? '' : ' (skipped: no nats-server)'}`, () => {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;
  const queried = new Set(
    dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((target) => queriedMetrics(target.expr)),
    ),
  );
  let world: BotWorld;
  let worker: WorkerProcess;
  let botPort: number;
  let workerPort: number;
  const stopBot = new AbortController();
  let bot: ReturnType<typeof runSdbot> | undefined;

  beforeAll(async () => {
    world = await BotWorld.start({ workers: [] });
    botPort = await freePort();
    workerPort = await freePort();
    worker = spawnWorker(world.nats.url, {
      id: 'dashboard',
      env: { SDBOT_METRICS_PORT: String(workerPort), LOG_LEVEL: 'warn' },
    });
    bot = runSdbot(
      ['bot', '--nats', world.nats.url, '--metrics-port', String(botPort)],
      {
        ...FAST_BOT_ENV,
        DISCORD_TOKEN: world.emulator.botToken,
        DISCORD_API_URL: world.emulator.apiUrl,
      },
      stopBot.signal,
    );
    await untilReady(workerPort, 30_000);
    await untilReady(botPort, 30_000);
  }, 60_000);

  afterAll(async () => {
    stopBot.abort();
    await bot;
    await worker.kill('SIGTERM');
    await world.cleanup();
  });

  it('queries the series the issue asks for', () => {
    for (const metric of [
      'sdbot_queue_depth',
      'sdbot_queue_backlog',
      'sdbot_worker_images_total',
      'sdbot_worker_step_seconds',
      'sdbot_bot_job_seconds',
      'sdbot_job_outcomes_total',
      'sdbot_bot_rate_limited_total',
      'sdbot_workers_online',
    ]) {
      expect(queried, metric).toContain(metric);
    }
  });

  it('queries only metrics a running bot or worker exports, and the README lists all of them', async () => {
    await resultOf(await world.imagine({ prompt: 'for the dashboard --steps 2 --count 1' }));
    const botText = await scrape(botPort);
    const workerText = await scrape(workerPort);
    const exported = new Set([...exportedMetrics(botText), ...exportedMetrics(workerText)]);
    expect([...queried].filter((metric) => !exported.has(metric))).toEqual([]);

    // The new system gauges carry live values read from JetStream and the worker registry.
    expect(botText).toMatch(/^sdbot_workers_online\{provider="simulated"\} 1$/m);
    expect(botText).toMatch(/^sdbot_queue_depth\{model="sim"\} 0$/m);
    expect(botText).toMatch(/^sdbot_queue_backlog\{model="sim"\} 0$/m);

    const readme = readFileSync(join(repositoryRoot, 'README.md'), 'utf8');
    const sdbotMetrics = [...exported].filter((metric) => metric.startsWith('sdbot_'));
    expect(sdbotMetrics.filter((metric) => !readme.includes(`\`${metric}\``))).toEqual([]);
  });
});
