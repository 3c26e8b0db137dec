/**
 * `npm run chaos`: a bounded fault run (a few minutes, not part of `npm test`). A 3-server NATS
 * cluster with every stream replicated 3 times; simulated worker processes (`sdbot worker
 * --simulate`) that are SIGKILLed at random and started again; one NATS server restarted
 * mid-run; a few hundred jobs from several guilds. Prints jobs submitted / delivered / lost /
 * duplicated / dead-lettered, the worst delay and how long the restarted server took to catch up,
 * and exits non-zero when a job is lost or delivered twice. Options: --jobs N (default 300),
 * --workers N (default 4), --seed N.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { INBOX_PREFIXES, JobsClient, STREAMS, connectNats, type JobOutcome } from '@sdbot/shared';
import { startNatsCluster, type NatsTestServer } from '../helpers/nats-server.js';
import { OutcomeLedger, type LedgerFigures } from '../helpers/outcome-ledger.js';
import { spawnWorker, type WorkerProcess } from '../helpers/worker-process.js';
import { testConfig } from '../helpers/workers.js';
import { testJob } from '../helpers/jobs.js';
import { seededRandom } from '../helpers/synthetic-images.js';

const RUN_LIMIT_MS = 4 * 60_000;
const GUILDS = [
  '100000000000000001',
  '100000000000000002',
  '100000000000000003',
  '100000000000000004',
  '100000000000000005',
];

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index < 0 ? undefined : Number(process.argv[index + 1]);
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const jobs = option('jobs', 300);
const workerCount = option('workers', 4);
const seed = option('seed', 1);
// Seeded, so a run's fault schedule can be repeated.
const rand = seededRandom(seed);
const env = {
  SDBOT_JS_REPLICAS: '3',
  SDBOT_ACK_WAIT: '4s',
  SDBOT_HEARTBEAT_INTERVAL: '1s',
  SDBOT_MAX_DELIVER: '10',
  SDBOT_WORKER_SLOTS: '2',
  SDBOT_RETRY_DELAY: '200ms',
  LOG_LEVEL: 'warn',
};

const started = Date.now();
const log = (text: string) => {
  console.error(`[chaos ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}`);
};

const cluster = await startNatsCluster(3);
const url = cluster.urls.join(',');
log(
  `cluster up: ${cluster.servers.map((s) => s.serverName).join(', ')}; ${jobs} jobs, ${workerCount} workers, seed ${seed}`,
);
const config = testConfig(url, env);
const connection = await connectNats(config.nats, {
  name: 'chaos-requester',
  inboxPrefix: INBOX_PREFIXES.bot,
});
const client = await JobsClient.open(connection, config);
const ledger = new OutcomeLedger(connection);

let generation = 0;
const workers = new Map<string, WorkerProcess>();
const startWorker = () => {
  generation += 1;
  const id = `chaos-${String(generation)}`;
  workers.set(id, spawnWorker(url, { id, msPerStep: 40, env }));
};
for (let index = 0; index < workerCount; index += 1) startWorker();

let kills = 0;
let restarted: string | undefined;
/** When the restarted server served JetStream again, and how long until its replicas caught up. */
let backAt: number | undefined;
let currentAfterMs: number | undefined;
const faultState = { stopping: false };
/** Read through a call: the fault loops see the flag change while they wait. */
const stopping = (): boolean => faultState.stopping;

/** SIGKILLs a random worker every 1.5-4.5 s and starts a replacement 1 s later. */
async function killWorkers(): Promise<void> {
  while (!stopping()) {
    await sleep(1500 + rand() * 3000);
    if (stopping()) break;
    const ids = [...workers.keys()];
    const victim = ids[Math.floor(rand() * ids.length)];
    if (victim === undefined) continue;
    const worker = workers.get(victim);
    workers.delete(victim);
    kills += 1;
    await worker?.kill('SIGKILL');
    log(`SIGKILL worker ${victim}`);
    await sleep(1000);
    if (!stopping()) startWorker();
  }
}

/** Restarts one NATS server (the work queue's leader, the hardest case) once, a third of the way in. */
async function restartServer(): Promise<void> {
  while (!stopping() && ledger.figures().delivered + ledger.figures().failed < jobs / 3) await sleep(200);
  if (stopping()) return;
  const jsm = await jetstreamManager(connection);
  const leader = (await jsm.streams.info(STREAMS.jobs)).cluster?.leader;
  const server: NatsTestServer | undefined =
    cluster.servers.find((candidate) => candidate.serverName === leader) ?? cluster.servers[0];
  if (server === undefined) return;
  restarted = server.serverName;
  log(`SIGKILL nats-server ${server.serverName} (leader of ${STREAMS.jobs})`);
  await server.kill();
  await sleep(3000);
  // Back once it serves JetStream; its replicas catch up meanwhile (an idle one, such as the
  // backlog's observer consumer, can take minutes on NATS 2.9), which the run reports.
  await server.start({ waitForJetStream: false });
  backAt = Date.now();
  log(`nats-server ${server.serverName} is back`);
  // Not awaited: the jobs go on meanwhile, and the run may end first.
  server.waitUntilCurrent(RUN_LIMIT_MS).then(
    () => {
      currentAfterMs = Date.now() - (backAt ?? Date.now());
      log(`nats-server ${server.serverName} is current (${(currentAfterMs / 1000).toFixed(1)} s)`);
    },
    () => undefined,
  );
}

const faults = [killWorkers(), restartServer()];

/** Submits the jobs at a steady pace, from several guilds and users. */
async function submitAll(): Promise<void> {
  const waits: Promise<void>[] = [];
  for (let index = 0; index < jobs; index += 1) {
    const guildId = GUILDS[index % GUILDS.length] ?? null;
    const job = testJob(client, {
      prompt: `chaos ${String(index)}`,
      model: 'sim',
      steps: 10 + Math.floor(rand() * 30),
      width: 64,
      height: 64,
      requester: { source: 'discord', guildId, channelId: guildId, userId: `user-${String(index % 11)}` },
    });
    const outcome = client.awaitOutcome(job.id, { timeoutMs: RUN_LIMIT_MS });
    ledger.submitted(job.id);
    waits.push(
      outcome.then(
        (found: JobOutcome) => {
          ledger.found(found);
        },
        () => undefined,
      ),
    );
    await client.submit(job, { requireServedModel: false }).catch((error: unknown) => {
      log(`submit of ${job.id} failed: ${String(error)}`);
    });
    await sleep(20);
  }
  log(`all ${jobs} jobs submitted`);
  const deadline = started + RUN_LIMIT_MS;
  while (ledger.waiting().length > 0 && Date.now() < deadline) await sleep(250);
  await Promise.race([Promise.all(waits), sleep(1000)]);
}

await submitAll();
faultState.stopping = true;
await Promise.all(faults);
// Late duplicates of an outcome would arrive now.
await sleep(2000);

const jsm = await jetstreamManager(connection);
const deadLetters = (await jsm.streams.info(STREAMS.deadLetters)).state.messages;
const figures: LedgerFigures = { ...ledger.figures(), deadLettered: deadLetters };
ledger.close();
client.dispatcher.stop();
await Promise.all([...workers.values()].map((worker) => worker.kill('SIGTERM')));
await connection.close();
await cluster.cleanup();

function currentAfterText(): string {
  if (backAt === undefined) return 'not restarted';
  if (currentAfterMs !== undefined) return `${(currentAfterMs / 1000).toFixed(1)} s`;
  return `not yet (${((Date.now() - backAt) / 1000).toFixed(0)} s after it came back)`;
}

const rows: [string, string][] = [
  ['jobs submitted', String(figures.submitted)],
  ['delivered (result)', String(figures.delivered)],
  [
    'failed (an outcome, not a result)',
    `${String(figures.failed)}${figures.failed > 0 ? ` ${JSON.stringify(figures.failureCodes)}` : ''}`,
  ],
  ['lost (no outcome)', String(figures.lost)],
  ['duplicated (two different outcomes)', String(figures.duplicated)],
  ['dead-lettered', String(figures.deadLettered)],
  ['outcomes re-sent, same content', String(figures.resent)],
  ['worst delay, submit to outcome', `${(figures.worstDelayMs / 1000).toFixed(1)} s`],
  ['workers SIGKILLed', String(kills)],
  ['nats-server restarted', restarted ?? 'none'],
  ['restarted server current after', currentAfterText()],
  ['run time', `${((Date.now() - started) / 1000).toFixed(0)} s`],
];
const width = Math.max(...rows.map(([name]) => name.length));
console.log(`\n| ${'chaos run'.padEnd(width)} | value |`);
console.log(`| ${'-'.repeat(width)} | ----- |`);
for (const [name, value] of rows) console.log(`| ${name.padEnd(width)} | ${value} |`);
process.exitCode = figures.lost === 0 && figures.duplicated === 0 ? 0 : 1;
