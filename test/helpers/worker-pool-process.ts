/**
 * A pool of simulated workers in a process of their own, as production runs them apart from the
 * bot: a benchmark's requester then does not share its CPU with them. Started by
 * `spawnWorkerPool`; reads commands on stdin (`traffic`: print what the workers sent to NATS and
 * the CPU time the process used since the last ask, as one JSON line), stops every worker on
 * SIGTERM.
 * Arguments: NATS_URL COUNT MS_PER_STEP ID_PREFIX [ENV_JSON]
 */
import { createInterface } from 'node:readline';
import { NatsTraffic } from './nats-traffic.js';
import { startTestWorker, type TestWorker } from './workers.js';

const [url = '', count = '1', msPerStep = '0', prefix = 'pool', envJson = '{}'] = process.argv.slice(2);
const env = JSON.parse(envJson) as NodeJS.ProcessEnv;
const workers: TestWorker[] = [];
// Started a few at a time: hundreds of connections at once would only queue in the server.
for (let index = 0; index < Number(count); index += 32) {
  const batch = Array.from({ length: Math.min(32, Number(count) - index) }, (_, offset) =>
    startTestWorker(url, { workerId: `${prefix}-${index + offset}`, msPerStep: Number(msPerStep), env }),
  );
  workers.push(...(await Promise.all(batch)));
}
const traffic = new NatsTraffic();
traffic.watch(workers.map((worker) => worker.connection));

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => {
  stopping ??= Promise.all(workers.map((worker) => worker.stop())).then(() => process.exit(0));
  return stopping;
};
process.on('SIGTERM', () => void stop());
let cpuSince = process.cpuUsage();
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'traffic') return;
  const cpu = process.cpuUsage(cpuSince);
  cpuSince = process.cpuUsage();
  console.log(JSON.stringify({ counts: traffic.take(), cpuMs: (cpu.user + cpu.system) / 1000 }));
});
console.log('ready');
